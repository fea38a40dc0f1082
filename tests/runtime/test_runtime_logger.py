"""The offline component log fails exactly where NiFi's Java ComponentLog over py4j fails.

Seen in a real NiFi 2.9.0: ``self.logger.info("Scheduled with {}", value)`` raised
``Method info([class java.lang.String, class java.lang.String]) does not exist`` and the processor never left
``onScheduled``. Every call that is not exactly one string must fail here too.
"""

from __future__ import annotations

import ast

import pytest

from claimflow.flow.pyprocessors import PROCESSOR_FOLDER
from claimflow_offline.logs import JavaMethodNotFound, RecordingLogger

LEVELS = ("trace", "debug", "info", "warn", "error")


@pytest.mark.parametrize("level", LEVELS)
def test_runtime_logger_takes_one_string(level: str) -> None:
    logger = RecordingLogger()
    getattr(logger, level)("routing 3 records to invalid")
    assert logger.at(level) == ["routing 3 records to invalid"]


@pytest.mark.parametrize(
    ("args", "classes"),
    [
        (("Scheduled with {}", "x"), "class java.lang.String, class java.lang.String"),
        (("{} of {}", "1", "2"), "class java.lang.String, class java.lang.String, class java.lang.String"),
        (("count {}", 3), "class java.lang.String, class java.lang.Integer"),
        (("big {}", 2**40), "class java.lang.String, class java.lang.Long"),
        (("failed", ValueError("boom")), "class java.lang.String, class py4j.Proxy(ValueError)"),
        ((42,), "class java.lang.Integer"),
        ((None,), "null"),
    ],
)
@pytest.mark.parametrize("level", LEVELS)
def test_runtime_logger_rejects_what_py4j_cannot_map(level: str, args: tuple, classes: str) -> None:
    logger = RecordingLogger()
    with pytest.raises(JavaMethodNotFound) as raised:
        getattr(logger, level)(*args)
    assert str(raised.value) == f"Method {level}([{classes}]) does not exist"
    assert logger.messages == []


def test_runtime_logger_has_no_python_logging_names() -> None:
    logger = RecordingLogger()
    for name in ("warning", "exception", "critical", "log"):
        assert not hasattr(logger, name), name


def test_runtime_logger_lists_what_becomes_a_bulletin() -> None:
    logger = RecordingLogger()
    logger.debug("per record")
    logger.info("scheduled")
    logger.warn("odd")
    logger.error("bug")
    assert [(m.level, m.message) for m in logger.bulletins()] == [("warn", "odd"), ("error", "bug")]


def test_runtime_framework_messages_format_java_style() -> None:
    # NiFi's Java side (not the processor) logs with varargs; the runner uses this for what NiFi itself logs.
    logger = RecordingLogger()
    logger.framework("error", "Failed to transform {}; routing to failure", "FlowFile[1]", KeyError("k"))
    (message,) = logger.messages
    assert message.source == "framework" and message.message.startswith("Failed to transform FlowFile[1]; routing")
    assert "KeyError" in message.message


def _logger_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "logger"
    ]


def test_runtime_every_processor_log_call_is_one_string() -> None:
    """A static net under the runtime one: a log call on a path no test reaches still fails here."""
    offending = []
    seen = 0
    for path in sorted(PROCESSOR_FOLDER.glob("*.py")):
        for call in _logger_calls(ast.parse(path.read_text())):
            seen += 1
            level = call.func.attr  # type: ignore[attr-defined]
            one_string = len(call.args) == 1 and not call.keywords
            if one_string and isinstance(call.args[0], ast.Constant):
                one_string = isinstance(call.args[0].value, str)
            if level not in LEVELS or not one_string:
                offending.append(f"{path.name}:{call.lineno}: {ast.unparse(call)}")
    assert seen >= 5  # the processors do log; an empty scan would prove nothing
    assert offending == []
