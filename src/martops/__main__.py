"""`python -m martops` runs the CLI, as `martops` does (schedule serve starts its runs this way)."""

from martops.cli import main

main()
