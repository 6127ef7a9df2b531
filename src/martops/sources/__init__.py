"""One module per kind of source; each turns outside data into typed Ibis tables."""
