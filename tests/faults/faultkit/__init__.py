"""The fault-test harness (``docs/reliability.md``): real processes, a recorded history, a checker.

- ``processes``: one ``connmgr`` subprocess in its own process group, logs on disk;
- ``cluster``: nats-server, a fresh PostgreSQL database, encryptor replicas, a relay;
- ``outages``: PostgreSQL made unavailable for the test's own database only;
- ``load``: the planned commands; ``publisher``: publishes them and records every
  outcome as ok, failed or unknown, retrying with the same ``Nats-Msg-Id``;
- ``drain``: waits until consumers and the relay are idle;
- ``observe``: what the broker says (redeliveries, the event stream read back);
- ``checker`` + ``report``: invariants I1-I7 on the whole history, and the table;
- ``progress``: the share of acknowledged commands applied, but for the rejections
  each test names as explained by its fault (``Excuse``).
"""
