"""The read side: queries only, one module per thing read, each named for it.

Nothing here writes. A read scoped to a tenant sees only that tenant's rows: another
tenant's are invisible exactly like rows that do not exist. What the API reads
leaves as models free of secret material (``views`` and each module's own); the one
exception is ``check_targets``, the prober's read, which returns the encrypted
secrets and the wrapped data key the check needs.
"""
