"""The scrape bench: what a ``/metrics`` scrape costs the database (``python -m bench.scrape``)."""
