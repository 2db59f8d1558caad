"""CloudWatch metrics as Embedded Metric Format documents.

EMF is a JSON log line CloudWatch turns into metrics, so a run needs no
PutMetricData permission and no extra call: the Lambda prints the documents to
stdout with its logs. What a run measures is `loadstar.run.report`'s business;
this module knows only the format, and every metric's unit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TextIO

UNITS: dict[str, str] = {
    "FilesLoaded": "Count",
    "RowsLoaded": "Count",
    "FilesFailed": "Count",
    "FilesNeedingAttention": "Count",
    "FilesPending": "Count",
    "OldestPendingAgeSeconds": "Seconds",
    "NewestLoadedAgeSeconds": "Seconds",
    "DurationMs": "Milliseconds",
    "IngestLagSeconds": "Seconds",
}
"""Every metric loadstar emits, and its unit."""

MAX_VALUES = 100
"""The most values one EMF document may carry for one metric."""

SERVICE_DIMENSION = "Service"
TABLE_DIMENSION = "Table"


def document(
    namespace: str,
    dimensions: Mapping[str, str],
    values: Mapping[str, float | list[float]],
    now: datetime,
    **properties: str,
) -> dict[str, Any]:
    """One EMF document: the metrics ``values`` (a value or a list of them) under
    ``dimensions``, at ``now``."""
    return {
        "_aws": {
            "Timestamp": int(now.timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in values],
                }
            ],
        },
        "event": "metrics",
        **dimensions,
        **properties,
        **values,
    }


def write(documents: Iterable[Mapping[str, Any]], stream: TextIO) -> None:
    """Write EMF documents to ``stream``, one JSON line each."""
    for doc in documents:
        stream.write(json.dumps(doc) + "\n")
    stream.flush()
