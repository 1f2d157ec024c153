"""Importers: a peer's file (Airflow, Uptime Kuma, Gatus) to a connections file.

One module per peer reads its format into ``entries.ImportedConnection`` values
(``airflow``, ``uptime_kuma``, ``gatus``); ``output`` writes them in the format
``connmgr plan``/``apply`` read, secrets as references only. See
``docs/importers.md``.
"""
