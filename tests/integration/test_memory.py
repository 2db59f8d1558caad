"""Memory stays flat however large a file is: a 5M-row file of several row groups
peaks where a 1M-row one does. (Memory, not time: nothing here is timed.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mypy_boto3_s3 import S3Client

from support import Conn, count

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("env")


def peak_rss_loading(
    rows: int, row_group: int, s3: S3Client, env: dict[str, str], bucket: str
) -> float:
    from bench.data import fact_table, parquet

    s3.create_bucket(Bucket=bucket)
    body = parquet(fact_table(rows, seed=rows), row_group_rows=row_group)
    s3.put_object(Bucket=bucket, Key="fact/big-2024-05-24 14:35:22.parquet", Body=body)
    done = subprocess.run(
        [sys.executable, "-m", "bench.worker", "loadstar_facts", json.dumps({"bucket": bucket})],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows"] == rows
    return float(result["peak_rss_mb"])


def test_a_5m_row_file_of_many_row_groups_loads_in_flat_memory(
    s3: S3Client, bucket: str, db: Conn, env: dict[str, str], tmp_path: Path
) -> None:
    db.execute("CREATE TABLE fact_big (LIKE fact_sales_order INCLUDING DEFAULTS)")
    config = tmp_path / "loadstar.toml"
    config.write_text('[tables.fact_big]\nprefix = "fact/big"\nversion_key = []\n')
    run_env = {**os.environ, **env, "LOADSTAR_CONFIG": str(config), "LOADSTAR_LOG_LEVEL": "WARNING"}
    small = peak_rss_loading(1_000_000, 1_000_000, s3, run_env, f"{bucket}-1m")
    large = peak_rss_loading(5_000_000, 500_000, s3, run_env, f"{bucket}-5m")
    assert count(db, "fact_big") == 6_000_000
    assert small < 300, f"peak RSS {small} MB loading 1M rows"
    assert large <= small * 1.15, f"peak RSS {large} MB for 5M rows against {small} MB for 1M"
