"""The console bench: first-load bytes and the dashboard's first page with many
connections stored (``python -m bench.console``; see bench/README.md)."""
