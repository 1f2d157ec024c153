"""The glue package: settings loading, the ``connmgr`` console script, the embedded
dev stack and process helpers (the wheel's nats-server, logging configuration).

It sits above every other package: it may import all of them, nothing imports it.
"""
