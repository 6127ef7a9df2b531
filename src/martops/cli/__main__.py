"""`python -m martops.cli` runs the CLI (used by tests that need a real separate process)."""

from martops.cli import main

main()
