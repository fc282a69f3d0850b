"""Entry point: page config, the pages, and the shared sidebar. Nothing else."""

import streamlit as st

from ui import app, sidebar

st.set_page_config(page_title="Overfitting Lab", page_icon=":material/monitoring:", layout="wide")
page = st.navigation(app.pages())
st.session_state["comparison"] = sidebar.render()
page.run()
