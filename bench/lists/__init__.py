"""The lists bench: connection list pages by filter (``python -m bench.lists``)."""
