"""loadstar: timestamped Parquet files from S3 into a PostgreSQL star schema, exactly once."""

from loadstar.api import (
    get_db_connection,
    get_latest_parquet_file,
    load_dim_tables,
    load_fact_table,
    load_to_warehouse,
    read_parquet_from_s3,
)
from loadstar.errors import (
    BadFileError,
    ConfigError,
    ConnectionFailedError,
    LoadFailedError,
    LoadstarError,
    TransientError,
)
from loadstar.handler import lambda_handler

__all__ = [
    "BadFileError",
    "ConfigError",
    "ConnectionFailedError",
    "LoadFailedError",
    "LoadstarError",
    "TransientError",
    "get_db_connection",
    "get_latest_parquet_file",
    "lambda_handler",
    "load_dim_tables",
    "load_fact_table",
    "load_to_warehouse",
    "read_parquet_from_s3",
]
