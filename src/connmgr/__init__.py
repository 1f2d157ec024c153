"""connmgr: connections to external systems, with sealed secrets and an audited event log."""
