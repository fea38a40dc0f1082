"""The TestRunner reproduces NiFi's routing, validation and lifecycle semantics for each processor kind."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from nifiapi.flowfilesource import FlowFileSource, FlowFileSourceResult
from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
from nifiapi.properties import PropertyDescriptor, StandardValidators, ValidationResult
from nifiapi.recordtransform import RecordTransform, RecordTransformResult
from nifiapi.relationship import Relationship

from claimflow_offline.runner import ProcessorRuntimeError, TestRunner, load_processor_class

FFT = ["org.apache.nifi.python.processor.FlowFileTransform"]
RT = ["org.apache.nifi.python.processor.RecordTransform"]


class Upper(FlowFileTransform):
    class Java:
        implements = FFT

    SUFFIX = PropertyDescriptor(name="Suffix", description="appended", required=True, default_value="!")
    TIMES = PropertyDescriptor(
        name="Times", description="repeat", validators=[StandardValidators.POSITIVE_INTEGER_VALIDATOR]
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.events: list[str] = [f"init logger={self.logger} identifier={self.identifier}"]

    def getPropertyDescriptors(self) -> list[PropertyDescriptor]:
        return [self.SUFFIX, self.TIMES]

    def onScheduled(self, context: Any) -> None:
        self.events.append("scheduled")

    def onStopped(self, context: Any) -> None:
        self.events.append("stopped")

    def transform(self, context: Any, flowFile: Any) -> FlowFileTransformResult:
        self.events.append("transform")
        self.last_flowfile = flowFile
        text = flowFile.getContentsAsBytes().decode()
        if text == "boom":
            raise ValueError("boom")
        if text == "fail":
            return FlowFileTransformResult("failure", attributes={"why": "asked"})
        if text == "keep":
            return FlowFileTransformResult("success", attributes={"kept": "yes"})
        suffix = context.getProperty(self.SUFFIX).getValue()
        return FlowFileTransformResult("success", attributes={"upper": "yes"}, contents=text.upper() + suffix)


class Routed(FlowFileTransform):
    class Java:
        implements = FFT

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()

    def getRelationships(self) -> list[Relationship]:
        return [Relationship("matched", "m")]

    def transform(self, context: Any, flowFile: Any) -> FlowFileTransformResult:
        return FlowFileTransformResult(flowFile.getContentsAsBytes().decode())


class Splitter(RecordTransform):
    class Java:
        implements = RT

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()

    def getRelationships(self) -> list[Relationship]:
        return [Relationship("even", "e"), Relationship("odd", "o")]

    def transform(self, context: Any, record: dict[str, Any], schema: Any, attributemap: Any) -> RecordTransformResult:
        if record.get("explode"):
            raise RuntimeError("explode")
        if record.get("drop"):
            return RecordTransformResult(record=None)
        if record.get("decimal"):
            return RecordTransformResult(record={"n": Decimal("1.10")}, relationship="even")
        relationship = "even" if record["n"] % 2 == 0 else "odd"
        tag = attributemap.getAttribute("tag")
        return RecordTransformResult(
            record={**record, "tag": tag}, relationship=relationship, partition={"group": record.get("group")}
        )


class Echo(RecordTransform):
    class Java:
        implements = RT

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()

    def transform(self, context: Any, record: dict[str, Any], schema: Any, attributemap: Any) -> RecordTransformResult:
        return RecordTransformResult(record=record)


def test_runtime_flowfile_transform_success_with_implicit_relationships() -> None:
    runner = TestRunner(Upper)
    assert set(runner.relationships()) == {"success", "original", "failure"}
    runner.enqueue("abc", {"source": "test"})
    runner.run()
    runner.assert_all_transferred("success", 1)
    out = runner.get_flowfiles_for("success")[0]
    out.assert_content_equals("ABC!")
    out.assert_attribute_equals("upper", "yes")
    out.assert_attribute_equals("source", "test")
    runner.assert_transferred("original", 0)  # auto-terminated: NiFi does not even clone it


def test_runtime_logger_and_identifier_are_injected_after_construction() -> None:
    runner = TestRunner(Upper, identifier="proc-1")
    assert runner.processor.events[0] == "init logger=None identifier=None"
    assert runner.processor.identifier == "proc-1"
    assert not hasattr(runner.processor.logger, "warning")  # NiFi's ComponentLog has warn, not warning


def test_runtime_lifecycle_order_and_one_flowfile_per_iteration() -> None:
    runner = TestRunner(Upper)
    for text in ("a", "b", "c"):
        runner.enqueue(text)
    runner.run(2)
    assert runner.processor.events[1:] == ["scheduled", "transform", "transform", "stopped"]
    assert runner.queue_size == 1
    runner.run(1, stop_on_finish=False)
    assert runner.processor.events[-1] == "transform"
    runner.stop()
    assert runner.processor.events[-1] == "stopped"


def test_runtime_exception_routes_the_unchanged_input_to_failure_and_is_logged() -> None:
    runner = TestRunner(Upper)
    original = runner.enqueue("boom", {"a": "1"})
    runner.run()
    runner.assert_all_transferred("failure", 1)
    failed = runner.get_flowfiles_for("failure")[0]
    assert failed.content == b"boom" and failed.attributes == original.attributes
    assert "Failed to transform" in runner.log_text() and "ValueError: boom" in runner.log_text()


def test_runtime_failure_result_keeps_content_and_adds_attributes() -> None:
    runner = TestRunner(Upper)
    runner.enqueue("fail")
    runner.run()
    runner.assert_all_transferred("failure", 1)
    runner.get_flowfiles_for("failure")[0].assert_attribute_equals("why", "asked")


def test_runtime_none_contents_keep_the_input_content() -> None:
    runner = TestRunner(Upper)
    runner.enqueue("keep")
    runner.run()
    runner.get_flowfiles_for("success")[0].assert_content_equals("keep")


def test_runtime_original_is_cloned_only_when_not_auto_terminated() -> None:
    runner = TestRunner(Upper)
    runner.set_auto_terminated("original", False)
    runner.enqueue("x")
    runner.run()
    runner.assert_transferred("original", 1)
    assert runner.get_flowfiles_for("original")[0].content == b"x"


def test_runtime_flowfile_is_valid_only_during_the_call() -> None:
    runner = TestRunner(Upper)
    runner.enqueue("x")
    runner.run()
    with pytest.raises(ProcessorRuntimeError):
        runner.processor.last_flowfile.getContentsAsBytes()


def test_runtime_declared_relationships_replace_success() -> None:
    runner = TestRunner(Routed)
    assert set(runner.relationships()) == {"matched", "original", "failure"}
    runner.enqueue("matched")
    runner.run()
    runner.assert_all_transferred("matched", 1)
    runner.enqueue("success")
    with pytest.raises(ProcessorRuntimeError, match="unknown relationship 'success'"):
        runner.run()


def test_runtime_validation_required_validators_unknown_properties() -> None:
    runner = TestRunner(Upper)
    runner.assert_valid()  # Suffix has a default
    runner.set_property("Times", "0")
    problems = runner.assert_not_valid()
    assert [p.subject for p in problems] == ["Times"]
    runner.set_property("Times", "2")
    runner.set_property("Nonsense", "x")
    assert [p.subject for p in runner.assert_not_valid()] == ["Nonsense"]
    runner.remove_property("Nonsense")
    runner.assert_valid()
    runner.enqueue("x")
    runner.set_property("Times", "-1")
    with pytest.raises(AssertionError, match="invalid"):
        runner.run()
    assert runner.processor.events[1:] == []  # never scheduled


def test_runtime_custom_validate_results_and_errors_make_it_invalid() -> None:
    class Picky(Upper):
        def customValidate(self, context: Any) -> list[ValidationResult]:
            if context.getProperty(self.SUFFIX).getValue() == "?":
                return [ValidationResult(subject="Suffix", explanation="no questions", valid=False)]
            if context.getProperty(self.SUFFIX).getValue() == "crash":
                raise RuntimeError("bug")
            return [ValidationResult(subject="Suffix", explanation="fine", valid=True)]

    runner = TestRunner(Picky)
    runner.assert_valid()
    runner.set_property("Suffix", "?")
    assert [p.explanation for p in runner.assert_not_valid()] == ["no questions"]
    runner.set_property("Suffix", "crash")
    assert runner.assert_not_valid()[0].subject == "Perform Validation"


def test_runtime_processor_without_kwargs_constructor_fails_like_nifi() -> None:
    class Strict(FlowFileTransform):
        class Java:
            implements = FFT

        def __init__(self) -> None:
            super().__init__()

        def transform(self, context: Any, flowFile: Any) -> FlowFileTransformResult:
            return FlowFileTransformResult("success")

    with pytest.raises(TypeError):
        TestRunner(Strict)


def test_runtime_record_transform_groups_by_relationship_and_partition() -> None:
    runner = TestRunner(Splitter)
    assert {"Record Reader", "Record Writer"} <= {d.name for d in runner.property_descriptors()}
    records = [{"n": 1, "group": "a"}, {"n": 2, "group": "a"}, {"n": 3, "group": "b"}, {"n": 5, "group": "a"},
               {"n": 9, "drop": True}]
    runner.enqueue("\n".join(__import__("json").dumps(r) for r in records), {"tag": "T"})
    runner.run()
    runner.assert_transferred("even", 1)
    runner.assert_transferred("odd", 2)
    runner.assert_transferred("original", 1)
    odd = {f.attributes["group"]: f for f in runner.get_flowfiles_for("odd")}
    assert [r["n"] for r in odd["a"].records()] == [1, 5]
    odd["a"].assert_attribute_equals("record.count", "2")
    odd["a"].assert_attribute_equals("mime.type", "application/json")
    odd["a"].assert_attribute_equals("tag", "T")  # children inherit the input's attributes
    assert odd["b"].records() == [{"n": 3, "group": "b", "tag": "T"}]


def test_runtime_record_transform_exception_discards_every_output() -> None:
    runner = TestRunner(Splitter)
    runner.enqueue('[{"n": 2}, {"n": 3}, {"explode": true}]')
    runner.run()
    assert runner.transferred_counts() == {"failure": 1}
    assert "explode" in runner.log_text()


def test_runtime_record_transform_rejects_a_decimal_like_the_json_bridge() -> None:
    runner = TestRunner(Splitter)
    runner.enqueue('{"decimal": true}')
    runner.run()
    assert runner.transferred_counts() == {"failure": 1}
    assert "Decimal is not JSON serializable" in runner.log_text()


def test_runtime_record_transform_sees_fractions_as_floats() -> None:
    runner = TestRunner(Echo)
    runner.enqueue('{"money": 1234.50, "big": 123456789012345678901234567890}')
    runner.run()
    assert runner.get_flowfiles_for("success")[0].records() == [
        {"money": 1234.5, "big": 123456789012345678901234567890}
    ]


def test_runtime_record_transform_unreadable_content_goes_to_failure() -> None:
    runner = TestRunner(Echo)
    runner.enqueue('{"a": 1}\n{broken')
    runner.run()
    assert runner.transferred_counts() == {"failure": 1}


def test_runtime_nifi_like_inference_keeps_own_fields_and_widens_numbers() -> None:
    runner = TestRunner(Echo, infer_schema_like_nifi=True)
    runner.enqueue('{"a": {"S": "x"}, "n": 1}\n{"a": {"N": "5"}, "n": 2.5, "extra": true}')
    runner.run()
    first, second = runner.get_flowfiles_for("success")[0].records()
    assert first == {"a": {"S": "x"}, "n": 1.0}  # not padded with the other record's fields
    # The writer inherits the first record's schema: the second record's fields outside it are dropped, and the
    # first record's fields it lacks are written as null.
    assert second == {"a": {"S": None}, "n": 2.5}


OUTPUTS = [{"id": 1, "count": 1, "note": None}, {"id": 2, "count": 2.75, "note": 7, "late": "dropped"}]


def test_runtime_writer_inherits_the_first_records_schema() -> None:
    class Shapeshifter(RecordTransform):
        class Java:
            implements = RT

        def __init__(self, **kwargs: Any) -> None:
            super().__init__()

        def transform(self, context: Any, record: dict[str, Any], schema: Any, attributemap: Any) -> Any:
            return RecordTransformResult(record=OUTPUTS[record["n"]])

    content = '{"n": 0}\n{"n": 1}'
    plain = TestRunner(Shapeshifter)
    plain.enqueue(content)
    plain.run()
    assert plain.get_flowfiles_for("success")[0].records() == OUTPUTS
    nifi_like = TestRunner(Shapeshifter, infer_schema_like_nifi=True)
    nifi_like.enqueue(content)
    nifi_like.run()
    # The writer kept only the first record's fields, truncated the fraction of an integer field, and typed the
    # null-only note as a string.
    assert nifi_like.get_flowfiles_for("success")[0].records() == [
        {"id": 1, "count": 1, "note": None},
        {"id": 2, "count": 2, "note": "7"},
    ]


def test_runtime_flowfile_source_creates_and_survives_errors() -> None:
    class Ticker(FlowFileSource):
        class Java:
            implements = ["org.apache.nifi.python.processor.FlowFileSource"]

        def __init__(self, **kwargs: Any) -> None:
            super().__init__()
            self.calls = 0

        def create(self, context: Any) -> FlowFileSourceResult | None:
            self.calls += 1
            if self.calls == 2:
                return None
            if self.calls == 3:
                raise RuntimeError("tick failed")
            return FlowFileSourceResult("success", {"n": str(self.calls)}, "tick")

    runner = TestRunner(Ticker)
    runner.run(4)
    assert [f.attributes["n"] for f in runner.get_flowfiles_for("success")] == ["1", "4"]
    assert "tick failed" in runner.log_text()


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


PROCESSOR_SOURCE = """
    from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
    {extra_import}

    class {name}(FlowFileTransform):
        class Java:
            implements = ['org.apache.nifi.python.processor.FlowFileTransform']

        def __init__(self, **kwargs):
            super().__init__()

        def transform(self, context, flowFile):
            return FlowFileTransformResult('success', contents={content})
"""


def test_runtime_loads_a_file_under_its_bare_name_with_local_dependencies(tmp_path: Path) -> None:
    package = tmp_path / "exts"
    package.mkdir()
    _write(package, "__init__.py", "")
    _write(package, "ClaimHelperUtils.py", "GREETING = 'hello from a local dependency'\n")
    path = _write(package, "GreetingProcessor.py", PROCESSOR_SOURCE.format(
        extra_import="from ClaimHelperUtils import GREETING", name="GreetingProcessor", content="GREETING"))
    cls = load_processor_class(path)
    assert cls.__name__ == "GreetingProcessor" and cls.__module__ == "GreetingProcessor"
    runner = TestRunner(path)
    runner.enqueue("")
    runner.run()
    runner.get_flowfiles_for("success")[0].assert_content_equals("hello from a local dependency")


def test_runtime_relative_imports_fail_as_in_nifi(tmp_path: Path) -> None:
    package = tmp_path / "exts"
    package.mkdir()
    _write(package, "__init__.py", "")
    _write(package, "helper_values.py", "VALUE = 'x'\n")
    path = _write(package, "RelativeProcessor.py", PROCESSOR_SOURCE.format(
        extra_import="from .helper_values import VALUE", name="RelativeProcessor", content="VALUE"))
    with pytest.raises(ImportError):
        load_processor_class(path)


def test_runtime_dynamic_properties_need_getdynamicpropertydescriptor() -> None:
    class Tagger(Upper):
        def getDynamicPropertyDescriptor(self, name: str) -> PropertyDescriptor | None:
            if name.startswith("tag."):
                return PropertyDescriptor(name=name, description="attribute to add", dynamic=True,
                                          validators=[StandardValidators.NON_EMPTY_VALIDATOR])
            return None

    runner = TestRunner(Tagger)
    runner.set_property("tag.source", "claims")
    runner.assert_valid()
    assert "tag.source" in {d.name for d in runner.property_descriptors()}
    runner.set_property("tag.empty", "")
    runner.set_property("other", "x")
    assert {p.subject for p in runner.assert_not_valid()} == {"tag.empty", "other"}
    plain = TestRunner(Upper)
    plain.set_property("tag.source", "claims")
    assert [p.subject for p in plain.assert_not_valid()] == ["tag.source"]


def test_runtime_controller_services_resolve_by_identifier() -> None:
    class UsesService(Upper):
        SERVICE = PropertyDescriptor(name="Lookup Service", description="s", required=True,
                                     controller_service_definition="LookupService")

        def getPropertyDescriptors(self) -> list[PropertyDescriptor]:
            return [self.SUFFIX, self.SERVICE]

        def onScheduled(self, context: Any) -> None:
            self.service = context.getProperty(self.SERVICE).asControllerService()

    runner = TestRunner(UsesService)
    runner.assert_not_valid()
    runner.set_property("Lookup Service", "svc-1")
    runner.add_controller_service("svc-1", {"answer": 42})
    runner.run(0)
    assert runner.processor.service == {"answer": 42}


def test_runtime_assertion_helpers_fail_when_they_should() -> None:
    runner = TestRunner(Upper)
    for text in ("a", "boom", "b"):
        runner.enqueue(text)
    runner.run_until_empty()
    runner.assert_queue_empty()
    runner.assert_transferred("success", 2)
    with pytest.raises(AssertionError, match="1 FlowFiles on 'failure', expected 0"):
        runner.assert_transferred("failure", 0)
    with pytest.raises(AssertionError, match="also went to"):
        runner.assert_all_transferred("success")
    out = runner.get_flowfiles_for("success")[0]
    out.assert_attribute_exists("upper")
    with pytest.raises(AssertionError):
        out.assert_attribute_equals("upper", "no")
    with pytest.raises(AssertionError):
        out.assert_attribute_not_exists("upper")
    with pytest.raises(AssertionError):
        out.assert_content_equals("a")
    runner.clear_transfer_state()
    assert runner.transferred_counts() == {}


def test_runtime_property_values_must_be_strings_and_attributes_too() -> None:
    runner = TestRunner(Upper)
    with pytest.raises(TypeError):
        runner.set_property("Times", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        runner.enqueue("x", {"count": 3})  # type: ignore[dict-item]
