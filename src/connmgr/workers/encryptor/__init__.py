"""The encryptor pool: create, update, rotate and delete commands.

It is the only pool that opens sealed secrets; it encrypts them under a fresh
per-connection data key and appends the resulting events in one transaction.
"""
