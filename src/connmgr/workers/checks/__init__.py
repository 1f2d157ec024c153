"""The check library that the tester, the prober and the notifier share (pools import no pool).

- one module per connection kind, each a small class with the ``Check``
  interface (``base``), found by kind in ``registry``;
- ``runner``: runs checks under a global concurrency limit, a per-target cap
  and a timeout;
- ``targets``: a stored connection or a draft made ready to check, its secrets
  opened in memory only;
- ``results``: a result in the form events and command outcomes record it.
"""
