"""The pipeline bench: commands in, projection rows out, and the read API.

``python -m bench.pipeline`` (``__main__``: the order of the run). ``options``: the
command line. ``run``: each side's figures. The implementations measured:
``encryptors`` (the write path under test: ``connmgr worker encryptor``; another
implementation of ``write_load.WritePath``, such as a raw-client floor, goes in a
module of its own beside it), the API and the bare aiohttp app (``targets.py``).
The loads: ``write_load`` (building, sealing, raw and end-to-end rates),
``latency`` (offered-rate latency), ``read_load`` (seeding, driving the HTTP load
with ``random_ids.lua`` under wrk or ``http_load.py``).
"""
