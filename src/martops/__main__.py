"""`python -m martops` runs the `martops` command (the same entry point as the console script)."""

from martops.cli import main

main()
