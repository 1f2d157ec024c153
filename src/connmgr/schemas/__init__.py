"""The contract: commands, events, connection kinds, subjects, the sealed-secret format.

Pure: nothing here performs I/O or imports another connmgr package.
"""
