"""The component log a processor sees as ``self.logger``, behaving as NiFi's does across py4j.

In NiFi, ``self.logger`` is the Java ``ComponentLog`` reached through py4j. py4j resolves a Python call against the
Java overloads by the Java classes of the arguments, and it never packs extra Python arguments into a Java varargs
array. So ``self.logger.info("a {}", x)`` looks for ``info(String, String)``, which does not exist (the overloads are
``info(String)``, ``info(String, Throwable)``, ``info(String, Object[])`` and ``info(LogMessage)``), and raises
``py4j.Py4JException: Method info([class java.lang.String, class java.lang.String]) does not exist`` — seen in a
real NiFi 2.9.0. :class:`RecordingLogger` raises :class:`JavaMethodNotFound` with the same text for every call that
is not exactly one ``str``, so a test fails where NiFi would.

Messages that NiFi would also post as a bulletin (at the processor's default bulletin level, WARN) are listed by
:meth:`RecordingLogger.bulletins`, so tests can keep per-record noise out of the bulletin board.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass

_PY_LEVELS = {"trace": 5, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
_ORDER = ("trace", "debug", "info", "warn", "error")
DEFAULT_BULLETIN_LEVEL = "warn"  # a processor's "Bulletin Level" default in NiFi 2.x


class JavaMethodNotFound(RuntimeError):
    """What py4j raises (as ``Py4JException``) when no Java method matches the Python call's arguments."""


@dataclass(frozen=True)
class LogMessage:
    level: str
    message: str
    source: str = "processor"  # "processor": the Python code's self.logger; "framework": NiFi's Java side


def _java_class(value: object) -> str:
    """The Java class py4j converts a Python value to (the part of its error message that names each argument)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "class java.lang.Boolean"
    if isinstance(value, int):
        return "class java.lang.Integer" if -(2**31) <= value < 2**31 else "class java.lang.Long"
    if isinstance(value, float):
        return "class java.lang.Double"
    if isinstance(value, str):
        return "class java.lang.String"
    if isinstance(value, (bytes, bytearray)):
        return "class [B"
    if isinstance(value, (list, tuple)):
        return "class java.util.ArrayList"
    if isinstance(value, dict):
        return "class java.util.HashMap"
    return f"class py4j.Proxy({type(value).__name__})"


def format_java_style(msg: object, args: tuple[object, ...]) -> str:
    """Fill SLF4J-style ``{}`` placeholders as NiFi's Java ComponentLog does for Java callers (the framework side);
    a trailing exception is appended with its traceback, as the ComponentLog does with a Throwable."""
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
    """NiFi's ComponentLog as seen from Python: ``trace``, ``debug``, ``info``, ``warn`` and ``error``, each taking
    exactly one ``str``. There is deliberately no ``warning`` or ``exception`` (calling those fails in NiFi too)."""

    def __init__(self, name: str = "claimflow_offline.processor", bulletin_level: str = DEFAULT_BULLETIN_LEVEL):
        self.messages: list[LogMessage] = []
        self.bulletin_level = bulletin_level
        self._python_logger = logging.getLogger(name)

    def _record(self, level: str, text: str, source: str) -> None:
        self.messages.append(LogMessage(level, text, source))
        self._python_logger.log(_PY_LEVELS[level], text)

    def _from_python(self, level: str, args: tuple[object, ...], kwargs: dict[str, object]) -> None:
        if kwargs or len(args) != 1 or not isinstance(args[0], str):
            classes = ", ".join(_java_class(arg) for arg in (*args, *kwargs.values()))
            raise JavaMethodNotFound(f"Method {level}([{classes}]) does not exist")
        self._record(level, args[0], "processor")

    def trace(self, *args: object, **kwargs: object) -> None:
        self._from_python("trace", args, kwargs)

    def debug(self, *args: object, **kwargs: object) -> None:
        self._from_python("debug", args, kwargs)

    def info(self, *args: object, **kwargs: object) -> None:
        self._from_python("info", args, kwargs)

    def warn(self, *args: object, **kwargs: object) -> None:
        self._from_python("warn", args, kwargs)

    def error(self, *args: object, **kwargs: object) -> None:
        self._from_python("error", args, kwargs)

    def framework(self, level: str, msg: str, *args: object) -> None:
        """A message NiFi's Java side logs for the processor (Java varargs work there), e.g. routing to failure."""
        self._record(level, format_java_style(msg, args), "framework")

    def text(self) -> str:
        """Every recorded message, one per line (for PHI assertions)."""
        return "\n".join(m.message for m in self.messages)

    def at(self, level: str) -> list[str]:
        return [m.message for m in self.messages if m.level == level]

    def bulletins(self) -> list[LogMessage]:
        """The messages NiFi would also post as bulletins (at or above the bulletin level)."""
        threshold = _ORDER.index(self.bulletin_level)
        return [m for m in self.messages if _ORDER.index(m.level) >= threshold]
