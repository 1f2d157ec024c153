"""The tester pool: tests a connection now, on demand (``connmgr.cmd.<tenant>.test.<id>``).

It decrypts the stored secrets in memory only, runs the kind's check under a
timeout and concurrency bounds, and records ``ConnectionTested``.
"""
