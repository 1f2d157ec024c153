"""The benches: ``python -m bench.pipeline``, ``bench.tester``, ``bench.prober`` (see README.md)."""
