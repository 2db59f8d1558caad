"""The benchmark's code runs (on tiny data), so it cannot rot. No time is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_runs_end_to_end_on_tiny_data(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    methods = {(m["warehouse"], m["method"]): m for m in results["methods"]}
    assert all(m["rows_ok"] for m in results["methods"]), results["methods"]
    assert ("a", "loadstar") in methods
    assert ("b", "server COPY FROM file (binary)") in methods
    assert all(m["rows_ok"] for m in results["memory"])
    upsert = results["dimension_upsert"]
    assert upsert["rows_written"] == upsert["expected_rows_written"]
    assert [h["files_loaded_before"] for h in results["history"]] == [5, 10, 20]
