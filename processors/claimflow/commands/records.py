"""The record loop of ``claimflow decode`` and ``claimflow transform``: one line on stdout per good record as soon
as it is made, one ``{"index", "error"}`` line on stderr per rejected one, and the final count line.

A record that makes anything raise is rejected as ``record N: internal error (<type>)`` and the loop goes on
(``--debug`` adds the traceback, without the message). A reader that goes away (``| head``) ends the run quietly.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import BinaryIO

import orjson

from claimflow.commands.errors import count_line, debug_traceback, internal_error
from claimflow.commands.framing import Input, frame

# One record -> (its output line, None) or (None, the rejection reason naming the record and the rule).
RecordStep = Callable[[object, bytes | None, int], tuple[bytes | None, str | None]]
# The framed input -> the records to go through and the step for each (built once, after framing).
Prepare = Callable[[Input], tuple[Iterable[tuple[object, bytes | None]], RecordStep]]


def closing_input(handle: BinaryIO) -> contextlib.AbstractContextManager[BinaryIO]:
    """Closes FILE at the end, never stdin."""
    return contextlib.nullcontext(handle) if handle is sys.stdin.buffer else handle


def run_records(handle: BinaryIO, prepare: Prepare, debug: bool) -> int:
    """Frame ``handle``, run every record through the step ``prepare`` gives, write outcomes and the count line.

    Returns the exit status: 0 when every record made a line, 1 when any was rejected (or the reader went away).
    """
    out = sys.stdout.buffer
    err = sys.stderr.buffer
    records = written = rejected = 0
    try:
        with closing_input(handle):
            pending, step = prepare(frame(handle))
            for index, (parsed, raw) in enumerate(pending):
                records += 1
                try:
                    line, reason = step(parsed, raw, index)
                except Exception as exc:  # one record never stops the others
                    line, reason = None, internal_error(index, exc)
                    if debug:
                        err.write(debug_traceback(exc).encode())
                if line is not None:
                    written += 1
                    out.write(line)
                    out.write(b"\n")
                else:
                    rejected += 1
                    err.write(orjson.dumps({"index": index, "error": reason}))
                    err.write(b"\n")
        out.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly; point stdout at /dev/null so the interpreter's final
        # flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    err.write(count_line(records, written, rejected))
    err.flush()
    return 1 if rejected else 0
