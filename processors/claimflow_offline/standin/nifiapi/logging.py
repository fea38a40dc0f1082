"""Log levels and the Python-side logger wrapper of the real ``nifiapi.logging``.

Note: what NiFi injects as ``self.logger`` is the Java ComponentLog (methods ``trace``, ``debug``, ``info``,
``warn``, ``error``; no ``warning`` or ``exception``). Offline, the TestRunner injects
``claimflow_offline.logs.RecordingLogger``, which has exactly those methods.
"""

from enum import Enum


class LogLevel(Enum):
    TRACE = 1
    DEBUG = 2
    INFO = 3
    WARN = 4
    ERROR = 5


class Logger:
    """Forwards to a component log with the same five methods (the real one forwards to Java)."""

    def __init__(self, min_level, java_logger):
        self.min_level = min_level
        self.java_logger = java_logger

    def _enabled(self, level):
        return level.value >= self.min_level.value

    def trace(self, msg, *args):
        if self._enabled(LogLevel.TRACE):
            self.java_logger.trace(str(msg), *args)

    def debug(self, msg, *args):
        if self._enabled(LogLevel.DEBUG):
            self.java_logger.debug(str(msg), *args)

    def info(self, msg, *args):
        if self._enabled(LogLevel.INFO):
            self.java_logger.info(str(msg), *args)

    def warn(self, msg, *args):
        if self._enabled(LogLevel.WARN):
            self.java_logger.warn(str(msg), *args)

    def error(self, msg, *args):
        if self._enabled(LogLevel.ERROR):
            self.java_logger.error(str(msg), *args)
