"""Data checks: queries that return the failing rows (zero rows pass), run on any Ibis engine.

- `specs`: the check kinds a project file may declare (pydantic, no engine needed);
- `builders`: one function per kind, each returning a `Check` (an Ibis query for bad rows);
- `core`: running checks, their results, and gating a step on them;
- `store`: `ops.check_results`, where every result is kept with the query to rerun it;
- `catalog`: the checks every known table gets, plus the ones `martops.yml` declares.
"""
