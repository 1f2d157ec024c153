"""The tester bench: tests/s of one tester process, beside a bare client loop.

``python -m bench.tester`` (``__main__``: the services and the passes). ``options``:
the command line and the tester's settings. ``fleet``: the connections and the test
commands. ``load``: one pass through the tester. ``recorded``: what it recorded.
``bare``: the bare client loop. ``figures``: the figures and the per-pass notes.
"""
