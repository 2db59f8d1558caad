"""Memory stays low and flat however large a file is: a 1M-row file as a pandas
transform writes it (one row group, times as strings, float prices) peaks under
250 MB, and a 5M-row file within 10% of that. (Memory, not time: nothing here is
timed.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from support import Conn, count

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("env")


CEILING_MB = 250


def run_python(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """A fresh interpreter running ``argv``; the JSON line it prints last."""
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def peak_rss_loading(
    body: bytes, rows: int, s3: S3Client, env: dict[str, str], bucket: str
) -> float:
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fact/big-2024-05-24 14:35:22.parquet", Body=body)
    result = run_python(
        ["-m", "bench.worker", "loadstar_facts", json.dumps({"bucket": bucket})], env
    )
    assert result["rows"] == rows
    # Nothing asked for a DataFrame: nothing may have tried to import pandas.
    assert result["pandas_imported"] is False
    return float(result["peak_rss_mb"])


def test_real_shaped_files_load_under_the_memory_ceiling_at_any_size(
    s3: S3Client, bucket: str, db: Conn, env: dict[str, str], tmp_path: Path
) -> None:
    from bench.data import fact_table, parquet, real_shape_parquet

    db.execute("CREATE TABLE fact_big (LIKE fact_sales_order INCLUDING DEFAULTS)")
    config = tmp_path / "loadstar.toml"
    config.write_text('[tables.fact_big]\nprefix = "fact/big"\nversion_key = []\n')
    run_env = {**os.environ, **env, "LOADSTAR_CONFIG": str(config), "LOADSTAR_LOG_LEVEL": "WARNING"}
    real = real_shape_parquet(1_000_000)
    small = peak_rss_loading(real, 1_000_000, s3, run_env, f"{bucket}-1m")
    many_groups = parquet(fact_table(5_000_000, seed=5), row_group_rows=500_000)
    large = peak_rss_loading(many_groups, 5_000_000, s3, run_env, f"{bucket}-5m")
    assert count(db, "fact_big") == 6_000_000
    assert small <= CEILING_MB, f"peak RSS {small} MB loading 1M real-shaped rows"
    assert large <= small * 1.10, f"peak RSS {large} MB for 5M rows against {small} MB for 1M"


PANDAS_WATCH = """
import importlib.abc, json, sys, traceback
tried = []
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "pandas" and not tried:
            tried.append("".join(traceback.format_stack(limit=30)))
sys.meta_path.insert(0, Watch())
from loadstar import lambda_handler
summary = lambda_handler({}, None)
print(json.dumps({"status": summary["status"], "files": summary["files_loaded"],
                  "pandas": tried[0] if tried else None}))
"""


def test_no_load_tries_to_import_pandas(
    s3: S3Client, bucket: str, db: Conn, env: dict[str, str]
) -> None:
    from loadstar.dev.sample import terrific_totes
    from support import put_files

    files = terrific_totes(2, 30)  # dimensions, then facts with foreign keys checked per file
    put_files(s3, bucket, files)
    result = run_python(
        ["-c", PANDAS_WATCH], {**os.environ, **env, "LOADSTAR_LOG_LEVEL": "WARNING"}
    )
    assert (result["status"], result["files"]) == ("loaded", len(files))
    assert result["pandas"] is None, result["pandas"]
