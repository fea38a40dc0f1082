"""Every module in the processor folder is one NiFi would discover and load, as shipped."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

from claimflow_offline.discovery import check_folder, inspect_module
from claimflow_offline.runner import PROCESSORS_DIR, TestRunner, load_processor_class

REPO = PROCESSORS_DIR.parent.parent
OURS = ("DecodeDynamoDBChange", "TransformClaimChange", "ProcessClaimChange", "DecodeDynamoDBExport")
RUNTIME_DEPENDENCIES = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def test_processors_folder_is_discoverable_by_nifi() -> None:
    assert check_folder(PROCESSORS_DIR) == []


def test_processors_folder_holds_the_expected_processors() -> None:
    modules = {p.stem for p in PROCESSORS_DIR.glob("*.py")} - {"__init__"}
    assert set(OURS) <= modules
    assert modules <= {*OURS, "MergeClaimsToSnowflake"}


@pytest.mark.parametrize("name", OURS)
def test_processors_details_are_literal_and_match_the_project(name: str) -> None:
    (info,) = inspect_module(PROCESSORS_DIR / f"{name}.py").processors
    assert info.class_name == name
    assert info.version == "0.1.0"
    assert info.dependencies == RUNTIME_DEPENDENCIES  # what the NAR bundles
    assert info.tags and isinstance(info.description, str) and len(info.description) > 80
    assert info.use_cases >= 1


@pytest.mark.parametrize("name", OURS)
def test_processors_documented_properties_are_the_runtime_ones(name: str) -> None:
    (info,) = inspect_module(PROCESSORS_DIR / f"{name}.py").processors
    runner = TestRunner(name)
    runtime = [d.name for d in runner.property_descriptors() if d.name not in ("Record Reader", "Record Writer")]
    assert info.property_names == runtime
    for descriptor in runner.property_descriptors():
        assert descriptor.description, descriptor.name
        assert descriptor.name[0].isupper(), descriptor.name  # display-quality names
    for relationship in runner.relationships().values():
        assert relationship.description, relationship.name


@pytest.mark.parametrize("name", OURS)
def test_processors_load_under_their_bare_name_and_never_import_offline_tooling(name: str) -> None:
    path = PROCESSORS_DIR / f"{name}.py"
    cls = load_processor_class(path)
    assert cls.__name__ == name and sys.modules[name].__file__ == str(path.resolve())
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
    assert imported <= {"claimflow", "nifiapi", "collections", "json", "re", "threading", "time"}, imported


def test_processors_hmac_key_is_sensitive_in_the_source() -> None:
    for name in ("TransformClaimChange", "ProcessClaimChange"):
        tree = ast.parse(Path(PROCESSORS_DIR / f"{name}.py").read_text())
        calls = [
            n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PropertyDescriptor"
        ]
        hmac = next(
            c for c in calls if any(k.arg == "name" and getattr(k.value, "value", "") == "HMAC Key" for k in c.keywords)
        )
        assert any(k.arg == "sensitive" and getattr(k.value, "value", None) is True for k in hmac.keywords), name
