"""From a file's columns to a table's: what the target table is (``table``), which file
column feeds which table column (``mapping``, the `LoadPlan`), and every value cast
to its column's type exactly or loudly (``casting``).

Pure Arrow and plain data: no SQL, no S3. The warehouse imports it, never the
reverse; it may import only ``config`` and ``errors``.
"""
