"""Storage: the event log, the projection, data keys, samples, and the read side (``reads``).

One code path for PostgreSQL (asyncpg) and SQLite (aiosqlite).
"""
