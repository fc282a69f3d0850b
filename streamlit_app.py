"""Entry point: page config, the pages, and the shared sidebar. Nothing else."""

import streamlit as st

from ui import sidebar

st.set_page_config(page_title="Overfitting Lab", page_icon=":material/monitoring:", layout="wide")
page = st.navigation(
    [
        st.Page("pages/compare.py", title="Compare", icon=":material/monitoring:", default=True),
        st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
        st.Page("pages/model.py", title="Model", icon=":material/schema:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/inventory_2:"),
    ]
)
st.session_state["comparison"] = sidebar.render()
page.run()
