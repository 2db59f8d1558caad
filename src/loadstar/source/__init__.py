"""The bucket side: listing, reading and tagging S3 objects, the instants in their keys,
which keys belong to a table, and Parquet read as record batches.

It knows nothing of the warehouse. It may import ``aws``, ``telemetry``,
``config`` and ``errors``; S3's errors leave it as loadstar errors with
their scope and ``s3_code`` (`loadstar.source.s3.classify`).
"""
