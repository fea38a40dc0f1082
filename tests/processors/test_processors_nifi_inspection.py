"""What NiFi documents about each processor equals what the processor declares at run time.

NiFi builds a Python processor's documentation (processor definition, runtime manifest) by reading its source
with ``ast`` (``ProcessorInspection``), never by running it: a list constant, an imported name or an expression
resolves to nothing there. Seen in a real NiFi 2.9.0 before this test: the true/false properties showed no
allowable values and MergeClaimsToSnowflake's Authentication Strategy showed ``[{}, {}]`` and no default.
``claimflow.flow.pyprocessors`` applies NiFi's resolution rules; the real NiFi integration test
(tests/it_nifi) checks the same against NiFi itself.
"""

from __future__ import annotations

import sys

import pytest

from claimflow.flow.pyprocessors import PROCESSOR_FOLDER, read_processor
from claimflow.snowflake import service
from claimflow.snowflake.spec import TableNames
from claimflow_offline.runner import TestRunner

PROCESSORS = sorted(p.stem for p in PROCESSOR_FOLDER.glob("*.py") if p.name != "__init__.py")


def _runtime(descriptor) -> dict:
    dependencies = tuple(
        (d.property_descriptor.name, tuple(str(v) for v in d.dependent_values)) for d in descriptor.dependencies or []
    )
    scope = descriptor.expressionLanguageScope
    return {
        "required": bool(descriptor.required),
        "sensitive": bool(descriptor.sensitive),
        "default": descriptor.defaultValue,
        "allowable_values": None if descriptor.allowableValues is None else tuple(descriptor.allowableValues),
        "dependencies": dependencies,
        "expression_language_scope": getattr(scope, "name", None) or "NONE",
    }


def _documented(spec) -> dict:
    return {
        "required": spec.required,
        "sensitive": spec.sensitive,
        "default": spec.default,
        "allowable_values": spec.allowable_values,
        "dependencies": spec.dependencies,
        "expression_language_scope": spec.expression_language_scope,
    }


@pytest.mark.parametrize("processor", PROCESSORS)
def test_processors_nifi_documents_every_property_as_declared(processor: str) -> None:
    runner = TestRunner(processor)
    spec = read_processor(PROCESSOR_FOLDER / f"{processor}.py")
    java_side = ("Record Reader", "Record Writer") if spec.interface == "RecordTransform" else ()
    documented = {p.name: p for p in spec.properties if p.name not in java_side}
    declared = runner.processor.getPropertyDescriptors()
    assert sorted(d.name for d in declared) == sorted(documented), processor
    for descriptor in declared:
        assert descriptor.name in documented, f"{processor}: NiFi would not document {descriptor.name!r}"
        assert _documented(documented[descriptor.name]) == _runtime(descriptor), descriptor.name


def test_processors_nifi_inspection_would_miss_a_list_constant(tmp_path) -> None:
    # The rule the test above relies on, shown on the pattern that broke in NiFi.
    source = (PROCESSOR_FOLDER / "ProcessClaimChange.py").read_text()
    broken = source.replace('allowable_values=["true", "false"],', "allowable_values=TRUE_FALSE,", 1)
    broken = broken.replace("REL_INSERT = ", 'TRUE_FALSE = ["true", "false"]\nREL_INSERT = ', 1)
    assert broken != source
    path = tmp_path / "ProcessClaimChange.py"
    path.write_text(broken)
    values = {p.name: p.allowable_values for p in read_processor(path).properties}
    assert values["Generalize ZIP to 3 Digits"] is None
    assert values["Generalize Birth Date to Year"] == ("true", "false")


def test_processors_merge_constants_equal_the_core() -> None:
    merge = TestRunner("MergeClaimsToSnowflake").processor
    loaded = sys.modules[type(merge).__module__]
    assert (loaded.KEY_PAIR, loaded.PASSWORD) == (service.KEY_PAIR, service.PASSWORD)
    tables = TableNames()
    assert (
        tables.staging,
        tables.history,
        tables.destination,
    ) == (loaded.STAGING_TABLE_DEFAULT, loaded.HISTORY_TABLE_DEFAULT, loaded.DESTINATION_TABLE_DEFAULT)
