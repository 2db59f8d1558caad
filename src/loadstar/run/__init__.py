"""One run: the pipeline over tables, the per-file loader with its retries, which files
are pending, the Lambda time budget, the run's summary and what it reports (log lines
and EMF metrics).

It reaches PostgreSQL only through `loadstar.warehouse.Warehouse` and S3 through
``source``; it may import those, ``shape``, ``telemetry``, ``config`` and
``errors``, never ``ops``, the entry points or ``dev``.
"""
