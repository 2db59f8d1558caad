"""Choosing the COPY encoding: binary only where every column's bytes are exact."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

import loadstar.warehouse.copy as copy_module
from loadstar.shape.table import Column
from loadstar.warehouse.copy import BinaryEncoder, CsvEncoder, choose_encoder


def column(base: str, typmod: int = -1) -> Column:
    return Column("c", base, base, False, False, False, typmod)


NUMERIC = column("numeric", ((10 << 16) | 2) + 4)


def one(arrow: pa.DataType) -> pa.Schema:
    return pa.schema([pa.field("a", arrow)])


def test_exact_types_go_binary() -> None:
    fields: list[pa.Field[Any]] = [
        pa.field("a", pa.int32()),
        pa.field("b", pa.decimal128(10, 2)),
        pa.field("c", pa.string()),
        pa.field("d", pa.date32()),
        pa.field("e", pa.time64("us")),
    ]
    schema = pa.schema(fields)
    columns = [column("int4"), NUMERIC, column("varchar"), column("date"), column("time")]
    assert isinstance(choose_encoder(schema, columns), BinaryEncoder)


@pytest.mark.parametrize(
    ("arrow", "base"),
    [
        (pa.string(), "uuid"),  # the server's binary uuid is 16 bytes, not text
        (pa.string(), "jsonb"),
        (pa.float64(), "numeric"),  # an unconstrained numeric fed doubles
        (pa.int64(), "int4"),
    ],
)
def test_anything_else_goes_csv(arrow: pa.DataType, base: str) -> None:
    assert isinstance(choose_encoder(one(arrow), [column(base)]), CsvEncoder)


def test_without_pgpq_everything_goes_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(copy_module, "_pgpq", None)
    assert isinstance(choose_encoder(one(pa.int32()), [column("int4")]), CsvEncoder)


class PanicException(BaseException):
    """What pyo3 raises when the Rust side of pgpq panics."""


def test_an_encoder_that_panics_falls_back_to_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    def panics(schema: pa.Schema) -> None:
        raise PanicException("not yet implemented: Decimal128")

    monkeypatch.setattr(copy_module, "BinaryEncoder", panics)
    assert isinstance(choose_encoder(one(pa.decimal128(10, 2)), [NUMERIC]), CsvEncoder)


def test_an_interrupt_while_choosing_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(schema: pa.Schema) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(copy_module, "BinaryEncoder", interrupted)
    with pytest.raises(KeyboardInterrupt):
        choose_encoder(one(pa.decimal128(10, 2)), [NUMERIC])
