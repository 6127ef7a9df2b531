"""`martops dashboard`: the weekly report's sections as a Streamlit app on the warehouse, read-only.

`launch` checks everything it can before Streamlit starts (the warehouse, the port) and runs the
server in this process; Streamlit then runs `app.py` (a script, as Streamlit wants one) for every
visit, which draws `page.main`. The sections are the report's own (`Domain.report`), narrowed by
the sidebar's filters (`martops.reports.filters`).
"""
