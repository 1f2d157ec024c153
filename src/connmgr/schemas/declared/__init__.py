"""Connections as code: the file ``connmgr plan``/``apply`` read and ``export`` writes.

``file`` holds the document (``DeclaredFile``, with the format by example) and
``connection`` one connection of it with what a file may not hold; ``health_check``
its health-check settings, ``config`` its config as stored and as written, ``source``
the managed-by marker, ``text`` reading and writing the YAML or JSON, ``problems``
the error lines that never quote a value. Pure: nothing here reads or writes a file.
"""
