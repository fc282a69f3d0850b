"""Streamlit glue shared by the pages: widgets, the job engine handle, rendering.

May import streamlit; never keras or tensorflow (core keeps those behind its functions).
"""
