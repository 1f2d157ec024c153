"""Storage: the event log, the projection, data keys and the queries the API reads.

One code path for PostgreSQL (asyncpg) and SQLite (aiosqlite).
"""
