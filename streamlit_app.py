"""Entry point: page config, the pages, and the shared sidebar. Nothing else."""

import streamlit as st

from core import config
from ui import app, sidebar

# Streamlit runs this file as __main__; the job engine's worker processes are spawned and
# re-import the main script as __mp_main__: they must not draw an app.
if __name__ == "__main__":
    present = st.query_params.get(sidebar.PRESENT) == "1"
    st.set_page_config(
        page_title="Overfitting Lab",
        page_icon=":material/monitoring:",
        layout="wide",
        initial_sidebar_state="collapsed" if present else "auto",
    )
    problem = config.problem()  # the operator's settings: one line, never a traceback
    if problem:
        st.error(f"This server cannot start: {problem}")
        st.stop()
    page = st.navigation(app.pages())
    st.session_state["comparison"] = sidebar.render(sweeping=page.title == "Sweep")
    app.style()
    page.run()
