"""The CLIs' incremental framing (``claimflow.commands.framing``) against the decoder's (``events.Content``): the
same records, raw bytes and single-record flag for every layout, so a streamed command reads what a processor
reads from the same FlowFile content."""

from __future__ import annotations

import io

import orjson
import pytest

from claimflow.commands.framing import frame
from claimflow.framing import MALFORMED, Content

ONE = orjson.dumps({"eventName": "INSERT", "n": 1})
TWO = orjson.dumps({"eventName": "MODIFY", "n": 2})
PRETTY = orjson.dumps({"eventName": "INSERT", "n": 1}, option=orjson.OPT_INDENT_2)

LAYOUTS = {
    "empty": b"",
    "blank lines only": b"\n \n\t\r\n",
    "one line": ONE,
    "one line and newline": ONE + b"\n",
    "ndjson": ONE + b"\n" + TWO + b"\n",
    "ndjson crlf": ONE + b"\r\n" + TWO + b"\r\n",
    "ndjson with blank lines": b"\n\n" + ONE + b"\n\n  \n" + TWO + b"\n\n" + ONE,
    "ndjson with byte order mark": b"\xef\xbb\xbf" + ONE + b"\n" + TWO,
    "ndjson with a broken line": ONE + b"\n{oops\n" + TWO,
    "ndjson with a form-feed line": ONE + b"\n\x0c\n" + TWO,
    "ndjson with a vertical-tab line": ONE + b"\n\x0b\n" + TWO,
    "ndjson of a number and a string": b"7\n\"x\"\n" + ONE,
    "array": b"[" + ONE + b"," + TWO + b"]",
    "array over lines": b"[\n" + ONE + b",\n" + TWO + b"\n]\n",
    "pretty document": PRETTY,
    "pretty documents": PRETTY + b"\n" + PRETTY,
    "broken first line then records": b"{oops\n" + ONE + b"\n" + TWO,
    "line separator inside a value": orjson.dumps({"v": "a\u2028b"}) + b"\n" + ONE,
}


def _framed(records: object) -> list[tuple[object, bytes | None]]:
    return [("MALFORMED" if parsed is MALFORMED else parsed, raw) for parsed, raw in records]  # type: ignore[attr-defined]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_streamed_framing_gives_the_decoders_records(layout: str) -> None:
    data = LAYOUTS[layout]
    expected = Content.of(data)
    streamed = frame(io.BytesIO(data)).content()
    assert _framed(streamed.records) == _framed(expected.records)
    assert streamed.single == expected.single


def test_ndjson_is_read_incrementally() -> None:
    """Only the first two record lines are read before the first record is framed."""

    class Counting(io.BytesIO):
        lines_read = 0

        def __next__(self) -> bytes:
            Counting.lines_read += 1
            return super().__next__()

    handle = Counting(b"\n".join([ONE] * 1000))
    content = frame(handle).content()
    assert Counting.lines_read == 2
    next(content.records)
    assert Counting.lines_read == 2
    assert sum(1 for _ in content.records) == 999
