"""Framing: a FlowFile's content cut into JSON records, before anything reads them as DynamoDB changes.

One framing serves every reader of Kinesis content (the decoder in :mod:`claimflow.events`, the claim processors'
fused path, the commands): a single object, a JSON array, NDJSON (lines holding only JSON whitespace ignored; any
other line is a record, :data:`MALFORMED` when it is not JSON) or one pretty-printed document. A broken NDJSON line
never takes the lines after it down.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from claimflow.dynamodb import MAX_ITEM_BYTES

JSON_BLANK = b" \t\r\n"  # JSON's whitespace; anything else on a line is content (and a rejection if not JSON)
UTF8_BOM = b"\xef\xbb\xbf"  # skipped before the first record
MALFORMED = object()  # stands for a record of the content whose JSON did not parse


def _raw_records(data: bytes) -> Iterator[tuple[object, bytes | None]]:
    """Yield (parsed value or MALFORMED, raw bytes or None) per record of a single object, array or NDJSON."""
    end = len(data)
    start = _skip_blank(data, len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0)
    if start >= end:
        return
    newline = data.find(b"\n", start)
    if newline == -1 or _skip_blank(data, newline) >= end:  # one line: one JSON document (object or array)
        yield from _document(data[start:] if start else data)
        return
    # Several lines: NDJSON, unless the first line is not JSON by itself but the whole text is (one
    # pretty-printed object or array). Text that is neither is read line by line, so a broken line never
    # takes the good lines after it down.
    if not _parses(data[start:newline]):
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            yield from _items(parsed, data)
            return
    yield from _ndjson(data, start)


def _skip_blank(data: bytes, position: int) -> int:
    """The position of the first non-whitespace byte at or after ``position`` (len(data) if none); no copies."""
    end = len(data)
    while position < end and data[position] in JSON_BLANK:
        position += 1
    return position


def _document(data: bytes) -> Iterator[tuple[object, bytes | None]]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        yield MALFORMED, data
        return
    yield from _items(parsed, data)


def _items(parsed: object, data: bytes) -> Iterator[tuple[object, bytes | None]]:
    if parsed.__class__ is list:
        for item in parsed:
            yield item, None
    else:
        yield parsed, data


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def nonblank_lines(data: bytes, start: int = 0) -> Iterator[bytes]:
    """The lines of ``data`` from ``start`` on that hold more than JSON whitespace, without their newline."""
    end = len(data)
    while start < end:
        newline = data.find(b"\n", start)
        if newline == -1:
            newline = end
        line = data[start:newline]
        start = newline + 1
        if line.strip(JSON_BLANK):
            yield line


def parse_line(line: bytes) -> tuple[object, bytes]:
    """One NDJSON record: (its parsed value, or :data:`MALFORMED` when it is not JSON, and its raw bytes)."""
    try:
        return orjson.loads(line), line
    except orjson.JSONDecodeError:
        return MALFORMED, line


def _ndjson(data: bytes, start: int) -> Iterator[tuple[object, bytes | None]]:
    for line in nonblank_lines(data, start):
        yield parse_line(line)


@dataclass(slots=True)
class Content:
    """A FlowFile's content framed into records, the one framing every reader of Kinesis content uses: a single
    object, a JSON array, NDJSON (blank lines ignored) or one pretty-printed document.

    ``records`` yields (the parsed record or :data:`MALFORMED`, its raw bytes or None for an array element);
    ``single`` tells whether the content holds exactly one record (the Kinesis position rules need it);
    ``length`` is the content's size when it alone proves every record within DynamoDB's item limit, else None.
    """

    records: Iterator[tuple[object, bytes | None]]
    single: bool
    length: int | None

    @classmethod
    def of(cls, data: bytes | bytearray | memoryview | str) -> Content:
        if data.__class__ is not bytes:
            data = data.encode() if isinstance(data, str) else bytes(data)
        assert isinstance(data, bytes)
        records = _raw_records(data)
        first = next(records, None)
        second = None if first is None else next(records, None)
        chained: Iterator[tuple[object, bytes | None]] = iter(()) if first is None else _chain(first, second, records)
        # An element of a JSON array has no raw text of its own; small content bounds its size, otherwise SizeBytes
        # is trusted as for decode_record (walking every element of a large array would cost a second decode).
        return cls(chained, second is None, len(data) if len(data) <= MAX_ITEM_BYTES else None)


def _chain(
    first: tuple[object, bytes | None],
    second: tuple[object, bytes | None] | None,
    rest: Iterator[tuple[object, bytes | None]],
) -> Iterator[tuple[object, bytes | None]]:
    yield first
    if second is not None:
        yield second
        yield from rest
