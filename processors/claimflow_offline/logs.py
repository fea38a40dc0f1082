"""A component log that records every message, so tests can assert what was (and was not) logged."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass

_PY_LEVELS = {"trace": 5, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


@dataclass(frozen=True)
class LogMessage:
    level: str
    message: str


def format_java_style(msg: object, args: tuple[object, ...]) -> str:
    """Fill SLF4J-style ``{}`` placeholders in order; a trailing exception is appended with its traceback,
    as NiFi's ComponentLog does with a Throwable (so an exception message is part of what gets logged)."""
    text = str(msg)
    remaining = list(args)
    throwable: BaseException | None = None
    if remaining and isinstance(remaining[-1], BaseException):
        throwable = remaining.pop()  # type: ignore[assignment]
    for arg in remaining:
        if "{}" not in text:
            break
        text = text.replace("{}", "null" if arg is None else str(arg), 1)
    if throwable is not None:
        text += "\n" + "".join(traceback.format_exception(throwable)).rstrip()
    return text


class RecordingLogger:
    """Same five methods as NiFi's ComponentLog as seen from Python (``trace``, ``debug``, ``info``, ``warn``,
    ``error``); there is deliberately no ``warning`` or ``exception``, because calling those fails in NiFi."""

    def __init__(self, name: str = "claimflow_offline.processor") -> None:
        self.messages: list[LogMessage] = []
        self._python_logger = logging.getLogger(name)

    def _log(self, level: str, msg: object, args: tuple[object, ...]) -> None:
        text = format_java_style(msg, args)
        self.messages.append(LogMessage(level, text))
        self._python_logger.log(_PY_LEVELS[level], text)

    def trace(self, msg: object, *args: object) -> None:
        self._log("trace", msg, args)

    def debug(self, msg: object, *args: object) -> None:
        self._log("debug", msg, args)

    def info(self, msg: object, *args: object) -> None:
        self._log("info", msg, args)

    def warn(self, msg: object, *args: object) -> None:
        self._log("warn", msg, args)

    def error(self, msg: object, *args: object) -> None:
        self._log("error", msg, args)

    def text(self) -> str:
        """Every recorded message, one per line (for PHI assertions)."""
        return "\n".join(m.message for m in self.messages)

    def at(self, level: str) -> list[str]:
        return [m.message for m in self.messages if m.level == level]
