"""The relay: the log is the outbox; each committed event is published once to ``CONNMGR_EVT``.

``service`` runs the relay (one leader at a time, by the leader lock of
``storage/leader_lock.py``); ``event_messages`` is the published form of an event.
"""
