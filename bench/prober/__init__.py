"""The prober bench: broker-fired health checks at scale.

``python -m bench.prober`` (``__main__``: the figures and notes). ``options``: the
command line and the workers' settings. ``run``: the steps of a run. ``fleet``: the
create commands and the schedules they get. ``progress``: consumer and probe-state
polling. ``meters``: the sequence timeline and CPU. ``window``: judging the window.
``storage``: bytes per row and per day. Its local targets are ``targets.py``.
"""
