"""A command's input framed into records as the decoder frames FlowFile content, read incrementally.

The framing is the decoder's (``claimflow.framing.Content``): one object, a JSON array, NDJSON (lines holding only
JSON whitespace ignored; any other line is a record, and a rejection when it is not JSON) or one pretty-printed
document. NDJSON (the first record's line is JSON by itself and another record follows) is read line by line as it
is framed, so memory does not grow with the number of records. Any other layout (one document on one line or
pretty-printed, an array, or text whose first line is not JSON by itself) is read whole and framed by
``Content.of``. ``tests/commands/test_commands_framing.py`` holds the two to the same records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from claimflow.framing import JSON_BLANK, MALFORMED, UTF8_BOM, Content, parse_line


@dataclass(slots=True)
class Input:
    """The input framed: ``streamed`` for NDJSON (records parsed as they are read), else ``whole`` (the bytes)."""

    streamed: Content | None
    whole: bytes | None

    def content(self) -> Content:
        if self.streamed is not None:
            return self.streamed
        assert self.whole is not None
        return Content.of(self.whole)


def _raw(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\n") else line


def frame(handle: BinaryIO) -> Input:
    """Frame ``handle``'s content; reads only up to the second record's line unless the layout needs it all."""
    seen: list[bytes] = []  # the physical lines read before the layout is known
    first: bytes | None = None
    second: bytes | None = None
    for line in handle:
        body = line[len(UTF8_BOM):] if not seen and line.startswith(UTF8_BOM) else line
        seen.append(line)
        if not body.strip(JSON_BLANK):
            continue
        if first is None:
            first = _raw(body.lstrip(JSON_BLANK))
            continue
        second = _raw(line)
        break
    if first is None or second is None:
        return Input(None, b"".join(seen))
    head = parse_line(first)
    if head[0] is MALFORMED:  # perhaps one pretty-printed document: the decoder decides on the whole text
        return Input(None, b"".join(seen) + handle.read())
    return Input(Content(_ndjson(head, second, handle), single=False, length=None), None)


def _ndjson(head: tuple[object, bytes], second: bytes, handle: BinaryIO) -> Iterator[tuple[object, bytes | None]]:
    yield head
    yield parse_line(second)
    for line in handle:
        raw = _raw(line)
        if raw.strip(JSON_BLANK):
            yield parse_line(raw)
