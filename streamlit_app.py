"""Entry point: page config, the pages, and the shared sidebar. Nothing else."""

import streamlit as st

from core import config
from ui import app, link, sidebar

# Streamlit runs this file as __main__; the job engine's worker processes are spawned and
# re-import the main script as __mp_main__: they must not draw an app.
if __name__ == "__main__":
    problem = config.problem()  # the operator's settings: one line, never a traceback
    if problem:
        st.error(f"This server cannot start: {problem}")
        st.stop()
    comparison, notes = link.parse()
    st.set_page_config(
        page_title="Overfitting Lab",
        page_icon=":material/monitoring:",
        layout="wide",
        initial_sidebar_state="collapsed" if comparison.present else "auto",
    )
    # Streamlit's own page menu drops the link; the sidebar's page links carry it.
    pages = app.pages()
    page = st.navigation(pages, position="hidden")
    comparison = app.on_page(comparison, page.title)
    link.write(comparison)
    st.session_state["comparison"] = comparison  # this run's, for the page: app.comparison()
    sidebar.render(comparison, notes, pages)
    app.style()
    page.run()
