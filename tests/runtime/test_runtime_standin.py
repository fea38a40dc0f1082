"""The stand-in nifiapi: real module/class/method names, and properties that behave like NiFi's."""

from __future__ import annotations

import importlib
import inspect

import pytest
from nifiapi.componentstate import Scope, StateManager
from nifiapi.flowfiletransform import FlowFileTransformResult
from nifiapi.properties import (
    DataUnit,
    ExpressionLanguageScope,
    OfflineComponentContext,
    ProcessContext,
    PropertyDependency,
    PropertyDescriptor,
    StandardValidators,
    TimeUnit,
)
from nifiapi.recordtransform import RecordTransformResult

from claimflow_offline import STANDIN_PATH

REAL_NAMES = {
    "flowfiletransform": ["FlowFileTransform", "FlowFileTransformResult"],
    "recordtransform": ["RecordTransform", "RecordTransformResult", "CachingAttributeMap"],
    "flowfilesource": ["FlowFileSource", "FlowFileSourceResult"],
    "properties": [
        "ExpressionLanguageScope", "StandardValidators", "PropertyDependency", "ResourceDefinition",
        "PropertyDescriptor", "PropertyContext", "ProcessContext", "ValidationContext", "TimeUnit", "DataUnit",
        "PythonPropertyValue", "ValidationResult",
    ],
    "relationship": ["Relationship"],
    "documentation": ["use_case", "multi_processor_use_case", "ProcessorConfiguration", "UseCaseDetails"],
    "componentstate": ["Scope", "StateManager", "StateMap", "StateException"],
    "logging": ["LogLevel", "Logger"],
}
REAL_VALIDATORS = (
    "ALWAYS_VALID", "NON_EMPTY_VALIDATOR", "INTEGER_VALIDATOR", "POSITIVE_INTEGER_VALIDATOR",
    "POSITIVE_LONG_VALIDATOR", "NON_NEGATIVE_INTEGER_VALIDATOR", "NUMBER_VALIDATOR", "LONG_VALIDATOR",
    "PORT_VALIDATOR", "NON_EMPTY_EL_VALIDATOR", "HOSTNAME_PORT_LIST_VALIDATOR", "BOOLEAN_VALIDATOR", "URL_VALIDATOR",
    "URI_VALIDATOR", "REGULAR_EXPRESSION_VALIDATOR", "REGULAR_EXPRESSION_WITH_EL_VALIDATOR", "TIME_PERIOD_VALIDATOR",
    "DATA_SIZE_VALIDATOR", "FILE_EXISTS_VALIDATOR",
)


@pytest.mark.parametrize("module", sorted(REAL_NAMES))
def test_runtime_module_exposes_the_real_names(module: str) -> None:
    loaded = importlib.import_module(f"nifiapi.{module}")
    assert loaded.__file__ is not None and loaded.__file__.startswith(str(STANDIN_PATH))
    missing = [name for name in REAL_NAMES[module] if not hasattr(loaded, name)]
    assert missing == []


def test_runtime_standin_is_not_a_package_of_the_distribution() -> None:
    # Only reachable through install_standin(): never a top-level nifiapi in the wheel or NAR.
    assert not (STANDIN_PATH / "__init__.py").exists()
    assert not (STANDIN_PATH.parent.parent / "nifiapi").exists()


def test_runtime_all_standard_validators_exist() -> None:
    assert [name for name in REAL_VALIDATORS if not hasattr(StandardValidators, name)] == []


def test_runtime_property_descriptor_has_the_real_keywords() -> None:
    parameters = list(inspect.signature(PropertyDescriptor).parameters)
    assert parameters == [
        "name", "description", "required", "sensitive", "display_name", "default_value", "allowable_values",
        "dependencies", "expression_language_scope", "dynamic", "validators", "resource_definition",
        "controller_service_definition",
    ]
    assert PropertyDescriptor("n", "d", default_value=5).defaultValue == "5"


def test_runtime_results_have_the_real_defaults() -> None:
    assert FlowFileTransformResult("success", contents="é").getContents() == "é".encode()
    assert FlowFileTransformResult("success").getContents() is None
    result = RecordTransformResult()
    assert (result.getRecord(), result.getRelationship(), result.getPartition()) == (None, "success", None)


@pytest.mark.parametrize(
    ("validator", "good", "bad"),
    [
        ("NON_EMPTY_VALIDATOR", "x", ""),
        ("INTEGER_VALIDATOR", "-12", "1.5"),
        ("INTEGER_VALIDATOR", "2147483647", "2147483648"),
        ("POSITIVE_INTEGER_VALIDATOR", "1", "0"),
        ("NON_NEGATIVE_INTEGER_VALIDATOR", "0", "-1"),
        ("LONG_VALIDATOR", "9223372036854775807", "9223372036854775808"),
        ("NUMBER_VALIDATOR", "1.25", "abc"),
        ("PORT_VALIDATOR", "443", "70000"),
        ("BOOLEAN_VALIDATOR", "TRUE", "yes"),
        ("URL_VALIDATOR", "https://example.com/x", "example.com"),
        ("URI_VALIDATOR", "s3://bucket/key", "no-scheme"),
        ("REGULAR_EXPRESSION_VALIDATOR", "^a+$", "(unclosed"),
        ("TIME_PERIOD_VALIDATOR", "30 sec", "30 parsecs"),
        ("DATA_SIZE_VALIDATOR", "1.5 MB", "many bytes"),
        ("HOSTNAME_PORT_LIST_VALIDATOR", "a:1, b:2", "a:1,b"),
    ],
)
def test_runtime_validators_accept_and_reject(validator: str, good: str, bad: str) -> None:
    check = getattr(StandardValidators, validator)
    assert check.validate("p", good, False).valid
    assert not check.validate("p", bad, False).valid


def test_runtime_validators_defer_expression_language_when_supported() -> None:
    assert StandardValidators.INTEGER_VALIDATOR.validate("p", "${n}", True).valid
    assert not StandardValidators.INTEGER_VALIDATOR.validate("p", "${n}", False).valid
    # Without Expression Language support, ${x} is plain text: valid for ALWAYS_VALID, judged as-is otherwise.
    assert all(r.valid for r in PropertyDescriptor("p", "d").validate("${x}"))
    number = PropertyDescriptor("n", "d", validators=[StandardValidators.INTEGER_VALIDATOR])
    assert [r.valid for r in number.validate("${x}")] == [False]


def _context(descriptors: list[PropertyDescriptor], values: dict[str, str]) -> ProcessContext:
    return ProcessContext(OfflineComponentContext(descriptors, values, name="T"))


class _Attributes:
    def __init__(self, attributes: dict[str, str]) -> None:
        self.attributes = attributes

    def getAttribute(self, name: str) -> str | None:
        return self.attributes.get(name)


def test_runtime_property_value_accessors() -> None:
    period = PropertyDescriptor("Period", "d", default_value="5 mins")
    size = PropertyDescriptor("Size", "d")
    count = PropertyDescriptor("Count", "d")
    flag = PropertyDescriptor("Flag", "d")
    unset = PropertyDescriptor("Unset", "d")
    context = _context([period, size, count, flag, unset], {"Size": "1 MB", "Count": "42", "Flag": "True"})
    assert context.getProperty(period).asTimePeriod(TimeUnit.MILLISECONDS) == 300_000
    assert context.getProperty("Period").asTimePeriod(TimeUnit.HOURS) == 0  # truncated like Java's long
    assert context.getProperty(size).asDataSize(DataUnit.KB) == 1024.0
    assert context.getProperty(count).asInteger() == 42
    assert context.getProperty(count).asFloat() == 42.0
    assert context.getProperty(flag).asBoolean() is True
    assert not context.getProperty(unset).isSet()
    assert context.getProperty(unset).asInteger() is None
    assert context.getProperty("No Such Property") is None


def test_runtime_expression_language_substitutes_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMFLOW_TEST_ENV", "from-env")
    table = PropertyDescriptor(
        "Table", "d", expression_language_scope=ExpressionLanguageScope.FLOWFILE_ATTRIBUTES
    )
    literal = PropertyDescriptor("Literal", "d")
    context = _context([table, literal], {"Table": "db=${db}.${'the table'}_${missing}${CLAIMFLOW_TEST_ENV}",
                                          "Literal": "${db}"})
    flowfile = _Attributes({"db": "RAW", "the table": "CLAIMS"})
    value = context.getProperty(table)
    assert value.isExpressionLanguagePresent()
    assert value.evaluateAttributeExpressions(flowfile).getValue() == "db=RAW.CLAIMS_from-env"
    assert context.getProperty(literal).evaluateAttributeExpressions(flowfile).getValue() == "${db}"


def test_runtime_leading_attribute_reference_short_cut_like_nifi_python() -> None:
    # NiFi's PythonPropertyValue evaluates a value that starts with ${attr} to the attribute alone.
    name = PropertyDescriptor("N", "d", expression_language_scope=ExpressionLanguageScope.FLOWFILE_ATTRIBUTES)
    context = _context([name], {"N": "${filename}.json"})
    flowfile = _Attributes({"filename": "claims"})
    assert context.getProperty(name).evaluateAttributeExpressions(flowfile).getValue() == "claims"
    context = _context([name], {"N": "${absent}"})
    assert context.getProperty(name).evaluateAttributeExpressions(flowfile).getValue() == ""
    # NiFi's pattern excludes a leading "d" (a mis-escaped \d), so ${db} is evaluated in full.
    context = _context([name], {"N": "${db}.json"})
    assert context.getProperty(name).evaluateAttributeExpressions(_Attributes({"db": "x"})).getValue() == "x.json"


def test_runtime_expression_language_functions_are_refused_offline() -> None:
    table = PropertyDescriptor("T", "d", expression_language_scope=ExpressionLanguageScope.FLOWFILE_ATTRIBUTES)
    context = _context([table], {"T": "${db:toUpper()}"})
    with pytest.raises(NotImplementedError):
        context.getProperty(table).evaluateAttributeExpressions(_Attributes({"db": "x"}))


def test_runtime_unmet_dependency_hides_the_property() -> None:
    mode = PropertyDescriptor("Mode", "d", allowable_values=["A", "B"], default_value="A")
    key = PropertyDescriptor("Key", "d", dependencies=[PropertyDependency(mode, "B")])
    detail = PropertyDescriptor("Detail", "d", dependencies=[PropertyDependency(key)])
    hidden = _context([mode, key, detail], {"Key": "k", "Detail": "x"})
    assert hidden.getProperty(key) is None
    assert hidden.getProperty(detail) is None  # its dependency is itself unmet
    shown = _context([mode, key, detail], {"Mode": "B", "Key": "k", "Detail": "x"})
    assert shown.getProperty(key).getValue() == "k"
    assert shown.getProperty(detail).getValue() == "x"


def test_runtime_state_manager_replace_is_optimistic() -> None:
    manager = StateManager()
    assert manager.getState(Scope.LOCAL).getStateVersion() is None
    manager.setState({"position": 1}, Scope.LOCAL)
    seen = manager.getState(Scope.LOCAL)
    assert seen.get("position") == "1"
    manager.setState({"position": "2"}, Scope.LOCAL)
    assert manager.replace(seen, {"position": "3"}, Scope.LOCAL) is False  # someone changed it meanwhile
    assert manager.replace(manager.getState(Scope.LOCAL), {"position": "3"}, Scope.LOCAL) is True
    assert manager.getState(Scope.LOCAL).toMap() == {"position": "3"}
    assert manager.getState(Scope.CLUSTER).toMap() == {}
