"""A role limited to loadstar's prefixes sees a deleted object as 403, not 404."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from loadstar.errors import AccessDeniedError, FileChangedError
from loadstar.source.s3 import head_object, open_object

KEY = "fact/sales_order-2024-05-24.parquet"


class DeniedS3:
    """Answers reads with 403; lists the key only while it exists."""

    def __init__(self, *, exists: bool) -> None:
        self.exists = exists

    def _denied(self, operation: str) -> ClientError:
        response: Any = {
            "Error": {"Code": "AccessDenied", "Message": "Access Denied"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        return ClientError(response, operation)

    def get_object(self, **kwargs: Any) -> Any:
        raise self._denied("GetObject")

    def head_object(self, **kwargs: Any) -> Any:
        raise self._denied("HeadObject")

    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["Prefix"] == KEY
        return {"Contents": [{"Key": KEY}]} if self.exists else {}


def test_a_denied_read_of_a_deleted_object_is_a_changed_file() -> None:
    with pytest.raises(FileChangedError, match="deleted after it was listed"):
        open_object(DeniedS3(exists=False), "b", KEY, etag="e")  # type: ignore[arg-type]
    assert head_object(DeniedS3(exists=False), "b", KEY) is None  # type: ignore[arg-type]


def test_a_denied_read_of_an_object_that_is_there_stops_the_run() -> None:
    with pytest.raises(AccessDeniedError, match="check the role's S3 permissions") as caught:
        open_object(DeniedS3(exists=True), "b", KEY, etag="e")  # type: ignore[arg-type]
    assert caught.value.scope == "run"
    assert caught.value.s3_code == "AccessDenied"
    with pytest.raises(AccessDeniedError):
        head_object(DeniedS3(exists=True), "b", KEY)  # type: ignore[arg-type]
