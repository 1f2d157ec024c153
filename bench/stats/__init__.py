"""The stats bench: window statistics from roll-up rows and from packed minute blocks
(``python -m bench.stats``)."""
