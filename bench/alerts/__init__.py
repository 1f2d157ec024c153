"""The alerts bench: the alerts list against a long alert history (``python -m bench.alerts``)."""
