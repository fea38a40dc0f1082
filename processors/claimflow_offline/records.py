"""An emulation of what NiFi's JSON record reader and writer do to records around a RecordTransform.

Real NiFi (RecordTransformProxy) reads the FlowFile with a Record Reader, hands Python JSON arrays, infers a
schema for each record Python returns, and writes each output (one per relationship and partition) with a writer
whose schema comes from the FIRST record routed there. With the JSON Tree Reader and an inferred schema:

- the reader's schema merges all records, but RecordTransformProxy hands Python each record with its RAW field
  names only (``WriteJsonResult.writeRawRecord``, nested records too): a field a record lacks stays absent, an
  explicit ``null`` stays ``null`` (a real NiFi 2.9.0 run showed no padding: the dead-letter text of a record
  without ``OldImage`` had none); a field that is integral in one record and fractional in another becomes a
  double everywhere;
- fractional numbers are doubles (Python ``float``), never exact decimals;
- the writer drops fields the first record did not have and coerces later values to the first record's types
  (a field that was null in the first record is typed as a string; an integer field truncates a fraction).

``read_records`` parses FlowFile content; ``ReaderSchema`` and ``WriterSchema`` apply the two schema effects.
This is an emulation, written from reading NiFi's sources; it is strict where NiFi would fail
(``IllegalTypeConversion``) so such bugs surface offline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

# A data type is one of: None (only nulls seen), "boolean", "int", "double", "string",
# dict[str, type] (a record), ("array", element type), ("choice", tuple of types).
DataType = Any


class RecordReadError(ValueError):
    """The content is not JSON records the JSON Tree Reader would accept."""


class IllegalTypeConversion(ValueError):
    """A value cannot be written with the output's schema (NiFi fails the whole FlowFile)."""


def read_records(content: bytes) -> list[dict[str, Any]]:
    """Records in ``content``: one JSON object, a JSON array of objects, or concatenated / newline-delimited objects.

    Raises:
        RecordReadError: the content is not valid JSON, or a record is not a JSON object.
    """
    text = content.decode("utf-8")
    records: list[dict[str, Any]] = []
    for position, value in _json_values(text):
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                raise RecordReadError(f"record at offset {position} is a JSON {type(item).__name__}, not an object")
            records.append(item)
    return records


def _json_values(text: str) -> Iterator[tuple[int, Any]]:
    decoder = json.JSONDecoder()
    position = 0
    length = len(text)
    while True:
        while position < length and text[position] in " \t\r\n":
            position += 1
        if position >= length:
            return
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise RecordReadError(f"invalid JSON at offset {error.pos}: {error.msg}") from None
        yield position, value
        position = end


def infer_type(value: Any) -> DataType:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return {key: infer_type(item) for key, item in value.items()}
    if isinstance(value, list):
        element: DataType = None
        for item in value:
            element = merge_types(element, infer_type(item))
        return ("array", element)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def merge_types(left: DataType, right: DataType) -> DataType:
    """The type NiFi's inference settles on when a field shows both types across records."""
    if left is None:
        return right
    if right is None or left == right:
        return left
    if isinstance(left, str) and isinstance(right, str) and {left, right} == {"int", "double"}:
        return "double"
    if isinstance(left, dict) and isinstance(right, dict):
        merged = dict(left)
        for key, kind in right.items():
            merged[key] = merge_types(merged.get(key), kind)
        return merged
    if _is_array(left) and _is_array(right):
        return ("array", merge_types(left[1], right[1]))
    options: list[DataType] = []
    for kind in (left, right):
        for option in kind[1] if _is_choice(kind) else (kind,):
            _add_choice_option(options, option)
    return ("choice", tuple(options))


def _add_choice_option(options: list[DataType], option: DataType) -> None:
    for index, existing in enumerate(options):
        if isinstance(existing, dict) and isinstance(option, dict):
            options[index] = merge_types(existing, option)
            return
        if existing == option:
            return
    options.append(option)


def _is_array(kind: DataType) -> bool:
    return isinstance(kind, tuple) and kind[0] == "array"


def _is_choice(kind: DataType) -> bool:
    return isinstance(kind, tuple) and kind[0] == "choice"


class ReaderSchema:
    """The schema the JSON Tree Reader infers over every record of a FlowFile."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        kind: DataType = {}
        for record in records:
            kind = merge_types(kind, infer_type(record))
        self.type: dict[str, DataType] = kind

    def getFieldNames(self) -> list[str]:
        return list(self.type)

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as the reader hands it on: its own fields only, numbers widened to the merged type."""
        return _conform(record, self.type)


def _conform(value: Any, kind: DataType) -> Any:
    if value is None:
        return None
    if isinstance(kind, dict) and isinstance(value, dict):
        return {key: _conform(item, kind.get(key)) for key, item in value.items()}
    if kind == "double" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if _is_array(kind) and isinstance(value, list):
        return [_conform(item, kind[1]) for item in value]
    if _is_choice(kind) and isinstance(value, dict):
        for option in kind[1]:
            if isinstance(option, dict):
                return _conform(value, option)
    return value


class WriterSchema:
    """The schema a record writer writes with: by default inherited from the first record routed to an output
    (NiFi's "Inherit Record Schema"); or explicit, from an Avro schema ("Use 'Schema Text' Property").

    ``suppress_missing`` is the JSON writer's "Suppress Null Values: Suppress Missing Values": a field absent from
    the record is left out instead of written as null (explicit nulls stay).
    """

    def __init__(self, first_record: dict[str, Any] | None = None, *, suppress_missing: bool = False) -> None:
        self.type: dict[str, DataType] = infer_type(first_record or {})
        self.suppress_missing = suppress_missing

    @classmethod
    def from_avro(cls, schema: dict[str, Any] | str, *, suppress_missing: bool = False) -> WriterSchema:
        """An explicit writer schema from Avro JSON (dict or text).

        Raises:
            ValueError: the schema's top level is not an Avro record, or it uses a type this emulation lacks.
        """
        parsed = json.loads(schema) if isinstance(schema, str) else schema
        kind = avro_type(parsed, {})
        if not isinstance(kind, dict):
            raise ValueError("a writer schema must be an Avro record")
        writer = cls(suppress_missing=suppress_missing)
        writer.type = kind
        return writer

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as written: only the schema's fields, values coerced to its types.

        Raises:
            IllegalTypeConversion: a value cannot be converted (NiFi routes the input FlowFile to failure).
        """
        return _coerce(record, self.type, "", self.suppress_missing)


_AVRO_PRIMITIVES = {"string": "string", "long": "int", "int": "int", "double": "double", "float": "double",
                    "boolean": "boolean", "null": None}


def avro_type(schema: Any, named: dict[str, DataType]) -> DataType:
    """The emulation's data type for an Avro type. Logical types: dates and timestamps are written as text (the
    writer's date formats), decimals as JSON numbers (a reader then sees a double: lossy, as in NiFi)."""
    if isinstance(schema, list):
        options = [avro_type(option, named) for option in schema if option != "null"]
        if len(options) == 1:
            return options[0]
        return ("choice", tuple(options))
    if isinstance(schema, str):
        if schema in _AVRO_PRIMITIVES:
            return _AVRO_PRIMITIVES[schema]
        if schema in named:
            return named[schema]
        raise ValueError(f"unsupported Avro type {schema!r}")
    logical = schema.get("logicalType")
    if logical == "decimal":
        return "double"
    if logical in ("date", "time-millis", "time-micros", "timestamp-millis", "timestamp-micros"):
        return "string"
    kind = schema.get("type")
    if kind == "record":
        fields: dict[str, DataType] = {}
        named[schema["name"]] = fields  # registered before the fields, so a record may refer to itself
        for field in schema["fields"]:
            fields[field["name"]] = avro_type(field["type"], named)
        return fields
    if kind == "array":
        return ("array", avro_type(schema["items"], named))
    if kind == "map":
        return ("choice", ())
    return avro_type(kind, named)


def _coerce(value: Any, kind: DataType, path: str, suppress_missing: bool = False) -> Any:
    if value is None:
        return None
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            raise _cannot_convert(type(value).__name__, "a record", path)
        return {
            key: _coerce(value.get(key), sub, f"{path}.{key}".lstrip("."), suppress_missing)
            for key, sub in kind.items()
            if not suppress_missing or key in value
        }
    if kind is None or kind == "string":
        # A null-only field is typed STRING by inference: later non-string values become their text.
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return java_to_string(value)
        return json.dumps(value, separators=(",", ":"))
    if kind == "int":
        if isinstance(value, bool):
            raise _cannot_convert("boolean", "an integer", path)
        if isinstance(value, (int, float)):
            return int(value)  # Java's Number.longValue(): the fraction is silently truncated
        if isinstance(value, str):
            return _parsed(value, int, "an integer", path)
        raise _cannot_convert(type(value).__name__, "an integer", path)
    if kind == "double":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            return _parsed(value, float, "a double", path)
        raise _cannot_convert(type(value).__name__, "a double", path)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _cannot_convert(type(value).__name__, "a boolean", path)
    if _is_array(kind):
        if not isinstance(value, list):
            raise _cannot_convert(type(value).__name__, "an array", path)
        return [_coerce(item, kind[1], f"{path}[]", suppress_missing) for item in value]
    return value  # a choice keeps whatever it gets


def _parsed(text: str, parse: Callable[[str], Any], target: str, path: str) -> Any:
    """A string written to a number field: parsed, as NiFi's DataTypeUtils does, or the conversion fails."""
    try:
        return parse(text)
    except ValueError:
        raise _cannot_convert("string", target, path) from None


def _cannot_convert(source: str, target: str, path: str) -> IllegalTypeConversion:
    return IllegalTypeConversion(f"cannot convert a {source} to {target} at '{path}'")


def java_to_string(value: Any) -> str:
    """``Objects.toString`` of the Java value Py4J makes of a Python value (partition values become attributes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_json_array(records: list[dict[str, Any]]) -> bytes:
    """The JSON Record Set Writer's default output: one compact JSON array."""
    return ("[" + ",".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in records) + "]").encode()
