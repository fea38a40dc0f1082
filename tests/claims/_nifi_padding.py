"""What a schema-merging NiFi record writer makes of a batch of Kinesis DynamoDB records.

NiFi infers one schema for all records of a FlowFile; written back with nulls (a JsonRecordSetWriter that does not
suppress them, or ConsumeKinesisStream's record mode), every record gets every field any other record has: an
absent key as null, and an attribute value as a record of every type tag seen for that attribute anywhere in the
batch, the other tags null (``{"M": {...}, "S": null}``). Lists merge their elements' schemas the same way.
"""

from __future__ import annotations

from typing import Any

_TAGS = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")


class _Schema:
    """The merged shape of one position: object fields, attribute-value tags, list elements."""

    def __init__(self) -> None:
        self.fields: dict[str, _Schema] = {}
        self.element: _Schema | None = None
        self.is_object = False

    def add(self, value: Any) -> None:
        if isinstance(value, dict):
            self.is_object = True
            for key, inner in value.items():
                self.fields.setdefault(key, _Schema()).add(inner)
        elif isinstance(value, list):
            self.element = self.element or _Schema()
            for inner in value:
                self.element.add(inner)

    def pad(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: (schema.pad(value[key]) if key in value else None) for key, schema in self.fields.items()}
        if isinstance(value, list) and self.element is not None:
            return [self.element.pad(inner) for inner in value]
        return value


def merged_schema_padding(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as NiFi writes them under the batch's merged schema (see the module's docstring)."""
    schema = _Schema()
    for record in records:
        schema.add(record)
    return [schema.pad(record) for record in records]


def has_tag_padding(records: list[dict[str, Any]]) -> bool:
    """True when some attribute value of some record carries a null sibling tag (the case the test is about)."""

    def walk(value: Any) -> bool:
        if isinstance(value, dict):
            tags = [key for key in value if key in _TAGS]
            if len(tags) > 1 and len(tags) == len(value) and sum(value[t] is not None for t in tags) == 1:
                return True
            return any(walk(inner) for inner in value.values())
        if isinstance(value, list):
            return any(walk(inner) for inner in value)
        return False

    return any(walk(record) for record in records)
