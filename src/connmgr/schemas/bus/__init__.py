"""Every string of the bus: subjects, stream and consumer names, headers, KV buckets.

No module outside this package spells these. Subjects:

- commands ``connmgr.cmd.<tenant>.<verb>.<connection_id>`` on stream ``CONNMGR_CMD``
  (work-queue retention: a command is gone once handled);
- events ``connmgr.evt.<tenant>.<connection_id>.<type>`` on stream ``CONNMGR_EVT``
  (limits retention), published by the relay;
- check schedules ``connmgr.schedule.<tenant>.<connection_id>`` firing into
  ``connmgr.probe.<tenant>.<connection_id>``, both on stream ``CONNMGR_SCHED``
  (work-queue retention), which only the prober writes and reads.

Modules: ``streams`` (stream and KV bucket names, what a stream takes),
``subjects`` (building each subject and stream filter), ``addresses`` (reading a
subject back into its parts), ``headers`` (header names, and which a command may
carry), ``inboxes`` (reply inboxes, and where a ``reply_to`` may point),
``consumers`` (each pool's durables, the relay's checkpoint). The package
re-exports nothing: a name is imported from the module that defines it, and the
AsyncAPI drift test (``tests/schemas/test_asyncapi_document.py``) reads every
module here.
"""
