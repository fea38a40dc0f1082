"""ProcessClaimChange and TransformClaimChange declare the same five claim properties, written out in each file;
ProcessClaimChange also has the decoder's two event-time properties (it decodes; TransformClaimChange does not),
written out as in DecodeDynamoDBChange.

NiFi 2.9 documents a Python processor's properties from ``PropertyDescriptor(...)`` calls in the processor's own
class only (``ProcessorInspection.get_property_descriptions``); a descriptor imported from another module runs but
is left out of the processor definition (imports are resolved only as targets of a ``PropertyDependency``). So the
files repeat their descriptors, and these tests fail when the copies drift apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from claimflow.flow.pyprocessors import PROCESSOR_FOLDER, classes_in, descriptor_call, parse_source, read_processor
from claimflow.record_routing import CLAIM_PROPERTIES, MAX_CLOCK_SKEW, MILLISECOND_PRECISION_SINCE
from claimflow_offline.runner import TestRunner

CLAIM_PROCESSORS = ("ProcessClaimChange", "TransformClaimChange")
# The processors that decode DynamoDB records, so read their event times by the same two properties.
DECODING_PROCESSORS = ("DecodeDynamoDBChange", "ProcessClaimChange")
# What each file does differently: its content router, and its list of descriptors.
OWN_METHODS = {"transform", "getPropertyDescriptors"}
# ProcessClaimChange's own descriptors: the decoder's event-time rules (DecodeDynamoDBChange has the same two).
EVENT_TIME_DESCRIPTORS = {"descriptor MAX_CLOCK_SKEW", "descriptor MILLISECOND_PRECISION_SINCE"}
EVENT_TIME_PROPERTIES = (MAX_CLOCK_SKEW, MILLISECOND_PRECISION_SINCE)


def _shared_parts(path: Path) -> dict[str, str]:
    """The parts both claim processor files must spell alike, by name: module-level string constants, the class's
    descriptor assignments and its methods but ``transform``, each as its syntax tree (comments aside)."""
    tree = parse_source(path)
    parts = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant):
            parts[f"module {ast.unparse(statement.targets[0])}"] = ast.dump(statement)
    (processor,) = [c for c in classes_in(tree) if c.name == path.stem]
    for statement in processor.body:
        if descriptor_call(statement) is not None:
            parts[f"descriptor {ast.unparse(statement.targets[0])}"] = ast.dump(statement)  # type: ignore[attr-defined]
        elif isinstance(statement, ast.FunctionDef) and statement.name not in OWN_METHODS:
            parts[f"method {statement.name}"] = ast.dump(statement)
    return parts


def _differences(first: Path, second: Path) -> list[str]:
    one, other = _shared_parts(first), _shared_parts(second)
    names = (one.keys() | other.keys()) - EVENT_TIME_DESCRIPTORS
    return sorted(name for name in names if one.get(name) != other.get(name))


def _event_time_differences(first: Path, second: Path) -> list[str]:
    """The event-time descriptors the two files spell differently (every argument: name, description, default,
    validators, required...), or that one of them lacks."""
    one, other = _shared_parts(first), _shared_parts(second)
    return sorted(name for name in EVENT_TIME_DESCRIPTORS if name not in one or one.get(name) != other.get(name))


def test_processors_claim_processors_spell_their_properties_alike() -> None:
    paths = [PROCESSOR_FOLDER / f"{name}.py" for name in CLAIM_PROCESSORS]
    assert _differences(*paths) == []
    process, transform = (_shared_parts(path) for path in paths)
    assert process.keys() >= EVENT_TIME_DESCRIPTORS and not EVENT_TIME_DESCRIPTORS & transform.keys()
    assert sum(name.startswith("descriptor ") for name in transform) == len(CLAIM_PROPERTIES)
    assert {"method customValidate", "method onScheduled"} <= transform.keys()


def test_processors_claim_properties_are_the_names_the_core_reads() -> None:
    for name in CLAIM_PROCESSORS:
        documented = read_processor(PROCESSOR_FOLDER / f"{name}.py").property_names
        declared = tuple(d.name for d in TestRunner(name).processor.getPropertyDescriptors())
        expected = CLAIM_PROPERTIES + (EVENT_TIME_PROPERTIES if name == "ProcessClaimChange" else ())
        assert documented == declared, name
        assert sorted(documented) == sorted(expected), name


def test_processors_claim_properties_drift_is_caught(tmp_path: Path) -> None:
    source = (PROCESSOR_FOLDER / "TransformClaimChange.py").read_text()
    changed = source.replace("(ages above 89 capped at 90)", "(ages above 89 capped at 89)", 1)
    assert changed != source
    copy = tmp_path / "TransformClaimChange.py"
    copy.write_text(changed)
    assert _differences(PROCESSOR_FOLDER / "ProcessClaimChange.py", copy) == ["descriptor GENERALIZE_BIRTH_DATE"]


def test_processors_decoding_processors_spell_their_event_time_properties_alike() -> None:
    paths = [PROCESSOR_FOLDER / f"{name}.py" for name in DECODING_PROCESSORS]
    assert _event_time_differences(*paths) == []
    # And what runs agrees: the descriptor objects the two processors hand NiFi, attribute by attribute.
    descriptors = [TestRunner(name).processor.getPropertyDescriptors() for name in DECODING_PROCESSORS]
    declared = [{d.name: vars(d) for d in each if d.name in EVENT_TIME_PROPERTIES} for each in descriptors]
    assert declared[0] == declared[1] and sorted(declared[0]) == sorted(EVENT_TIME_PROPERTIES)


@pytest.mark.parametrize(
    ("written", "drifted", "caught"),
    [
        ('default_value="15 min"', 'default_value="10 min"', "descriptor MAX_CLOCK_SKEW"),
        ("required=False,", "required=True,", "descriptor MILLISECOND_PRECISION_SINCE"),
        ("[StandardValidators.NON_EMPTY_VALIDATOR]", "[]", "descriptor MILLISECOND_PRECISION_SINCE"),
        ("(docs/guarantees.md, Mixed precision)", "(docs/guarantees.md)", "descriptor MILLISECOND_PRECISION_SINCE"),
    ],
)
def test_processors_event_time_properties_drift_is_caught(
    tmp_path: Path, written: str, drifted: str, caught: str
) -> None:
    source = (PROCESSOR_FOLDER / "DecodeDynamoDBChange.py").read_text()
    changed = source.replace(written, drifted, 1)
    assert changed != source
    copy = tmp_path / "DecodeDynamoDBChange.py"
    copy.write_text(changed)
    assert _event_time_differences(copy, PROCESSOR_FOLDER / "ProcessClaimChange.py") == [caught]
