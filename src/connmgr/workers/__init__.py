"""Worker pools: one module per pool, each its own process (``connmgr worker <pool>``)."""
