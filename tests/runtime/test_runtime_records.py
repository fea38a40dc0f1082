"""Reading FlowFile content as JSON records, and the type rules of NiFi's schema inference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimflow_offline.records import (
    IllegalTypeConversion,
    ReaderSchema,
    RecordReadError,
    WriterSchema,
    java_to_string,
    merge_types,
    read_records,
    write_json_array,
)


@pytest.mark.parametrize(
    "content",
    [b'{"a": 1}\n{"a": 2}\n', b'[{"a": 1}, {"a": 2}]', b'{"a": 1}{"a": 2}', b'\n\n{"a": 1}\r\n  {"a": 2}'],
)
def test_runtime_reads_every_json_layout(content: bytes) -> None:
    assert read_records(content) == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize("content", [b'{"a": 1}\n{"a": ', b"[1, 2]", b'"text"'])
def test_runtime_rejects_what_the_json_reader_rejects(content: bytes) -> None:
    with pytest.raises(RecordReadError):
        read_records(content)


def test_runtime_empty_content_has_no_records() -> None:
    assert read_records(b"") == []


def test_runtime_type_merging() -> None:
    assert merge_types("int", "double") == "double"
    assert merge_types(None, "string") == "string"
    assert merge_types({"a": "int"}, {"b": "string"}) == {"a": "int", "b": "string"}
    assert merge_types(("array", "int"), ("array", "double")) == ("array", "double")
    assert merge_types("string", "int") == ("choice", ("string", "int"))


def test_runtime_reader_schema_keeps_each_records_own_fields() -> None:
    # RecordTransformProxy writes each record's raw field names only (WriteJsonResult.writeRawRecord): no padding,
    # checked against a real NiFi 2.9.0 by tests/it_nifi (dead-letter originals equal the offline runtime's).
    records = [{"L": [{"S": "a"}, {"N": "1"}]}, {"L": [], "x": None}]
    schema = ReaderSchema(records)
    assert schema.getFieldNames() == ["L", "x"]
    assert schema.apply(records[0]) == {"L": [{"S": "a"}, {"N": "1"}]}
    assert schema.apply(records[1]) == {"L": [], "x": None}  # an explicit null stays


def test_runtime_writer_schema_conversions_that_fail() -> None:
    writer = WriterSchema({"flag": True, "nested": {"x": 1}, "items": [1]})
    with pytest.raises(IllegalTypeConversion):
        writer.apply({"flag": "maybe"})
    with pytest.raises(IllegalTypeConversion):
        writer.apply({"nested": "flat"})
    with pytest.raises(IllegalTypeConversion):
        writer.apply({"items": {"not": "a list"}})
    written = writer.apply({"flag": "TRUE", "nested": {"x": 2.9, "y": 1}})
    assert written == {"flag": True, "nested": {"x": 2}, "items": None}


def test_runtime_java_to_string_and_writer_output() -> None:
    assert [java_to_string(v) for v in (None, True, 1, 1.0, "s")] == ["null", "true", "1", "1.0", "s"]
    assert write_json_array([{"a": 1}, {"b": "é"}]) == '[{"a":1},{"b":"é"}]'.encode()

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.text(max_size=5),
                     st.floats(allow_nan=False, allow_infinity=False))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.sampled_from("abcd"), inner, max_size=3)),
                       max_leaves=8)
_records = st.lists(st.dictionaries(st.sampled_from("abcdef"), _values, max_size=4), min_size=1, max_size=4)


def _only_widens(original: object, read: object) -> bool:
    """``read`` is ``original`` with ints widened to floats where the merged type is a double, nothing else."""
    if isinstance(original, dict):
        return (isinstance(read, dict) and list(original) == list(read)
                and all(_only_widens(v, read[k]) for k, v in original.items()))
    if isinstance(original, list):
        return isinstance(read, list) and len(read) == len(original) and all(map(_only_widens, original, read))
    if isinstance(original, int) and not isinstance(original, bool) and isinstance(read, float):
        return read == float(original)
    return read == original and type(read) is type(original)


@settings(max_examples=150, deadline=None)
@given(_records)
def test_runtime_reader_inference_only_widens(records: list[dict[str, object]]) -> None:
    schema = ReaderSchema(records)
    for record in records:
        read = schema.apply(record)
        assert set(read) <= set(schema.getFieldNames())
        assert _only_widens(record, read)
