"""The discovery checker flags exactly what NiFi's AST-based discovery would miss or choke on."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from claimflow_offline.discovery import check_folder, inspect_module

GOOD = '''
from nifiapi.documentation import use_case
from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
from nifiapi.properties import PropertyDependency, PropertyDescriptor

MODE_A = "A"


@use_case(description="Does a thing.", keywords=["thing"], configuration="Set Mode.")
class {name}(FlowFileTransform):
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileTransform"]

    class ProcessorDetails:
        version = "0.1.0"
        description = "A processor."
        tags = ["t"]
        dependencies = ["orjson"]

    MODE = PropertyDescriptor(name="Mode", description="d", allowable_values=[MODE_A], default_value=MODE_A)
    KEY = PropertyDescriptor(name="Key", description="d", dependencies=[PropertyDependency(MODE, MODE_A)])

    def __init__(self, **kwargs):
        super().__init__()

    def transform(self, context, flowFile):
        return FlowFileTransformResult("success")
'''


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "procs"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_runtime_a_well_formed_processor_passes(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"ClaimflowGoodProcessor.py": GOOD.format(name="ClaimflowGoodProcessor")})
    assert check_folder(folder) == []
    (info,) = inspect_module(folder / "ClaimflowGoodProcessor.py").processors
    assert (info.version, info.tags, info.property_names, info.use_cases) == ("0.1.0", ["t"], ["Mode", "Key"], 1)


BREAKAGES = {
    "tuple version": ('version = "0.1.0"', 'version = "0.1.0",', "not a str"),
    "bare decorator": ('@use_case(description="Does a thing.", keywords=["thing"], configuration="Set Mode.")',
                       "@use_case", "call-style"),
    "dotted decorator": ('@use_case(description="Does a thing.", keywords=["thing"], configuration="Set Mode.")',
                         '@documentation.use_case(description="x")', "call-style"),
    "positional descriptor": ('PropertyDescriptor(name="Mode", description="d",', 'PropertyDescriptor("Mode", "d",',
                              "keyword arguments only"),
    "relative import": ("from nifiapi.documentation import use_case",
                        "from nifiapi.documentation import use_case\nfrom .helpers import x", "relative import"),
    "offline import": ("from nifiapi.documentation import use_case",
                       "from nifiapi.documentation import use_case\nimport claimflow_offline.runner",
                       "offline tooling"),
    "no kwargs": ("def __init__(self, **kwargs):", "def __init__(self):", "must accept **kwargs"),
    "computed description": ('description = "A processor."', 'description = "A " + str(1)', "literal str"),
    "tuple implements": ('implements = ["org.apache.nifi.python.processor.FlowFileTransform"]',
                         'implements = ("org.apache.nifi.python.processor.FlowFileTransform",)', "list literal"),
    "undefined dependency": ("PropertyDependency(MODE, MODE_A)", "PropertyDependency(OTHER, MODE_A)",
                             "undefined descriptor"),
    # Seen in a real NiFi 2.9.0: a list constant or an imported name leaves NiFi's docs without the values.
    "list constant of values": ("allowable_values=[MODE_A]", "allowable_values=MODES",
                                "cannot resolve allowable_values=MODES"),
    "imported default": ("default_value=MODE_A)", "default_value=DEFAULT_MODE)",
                         "cannot resolve default_value=DEFAULT_MODE"),
}
# Lines a breakage needs besides its own change (the constant or import it refers to).
_SETUP = {
    "list constant of values": ('MODE_A = "A"\n', 'MODE_A = "A"\nMODES = [MODE_A]\n'),
    "imported default": ("from nifiapi.properties import PropertyDependency, PropertyDescriptor",
                         "from nifiapi.properties import PropertyDependency, PropertyDescriptor\n"
                         "from somewhere import DEFAULT_MODE"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_runtime_each_breakage_is_reported(tmp_path: Path, breakage: str) -> None:
    old, new, expected = BREAKAGES[breakage]
    source = GOOD.format(name="ClaimflowGoodProcessor")
    if breakage in _SETUP:
        source = source.replace(*_SETUP[breakage])
    assert old in source
    folder = _folder(tmp_path, {"ClaimflowGoodProcessor.py": source.replace(old, new)})
    problems = check_folder(folder)
    assert any(expected in p for p in problems), problems


def test_runtime_folder_rules(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "WrongName.py": GOOD.format(name="ClaimflowOtherName"),
            "json.py": GOOD.format(name="json"),
            "helpers.py": "VALUE = 1\n",
            "notes.txt": "x",
        },
    )
    (folder / "__init__.py").unlink()
    problems = "\n".join(check_folder(folder))
    assert "missing __init__.py" in problems
    assert "WrongName.py: module name differs from its class ClaimflowOtherName" in problems
    assert "json.py: module name shadows a standard-library module" in problems
    assert "helpers.py: not a processor module" in problems
    assert "notes.txt: only processor modules" in problems


def test_runtime_discovery_and_the_flow_reader_agree_on_every_shipped_processor() -> None:
    """One reader, two users: what the checker reports equals what the flow generator reads."""
    from claimflow.flow.pyprocessors import PROCESSOR_FOLDER, read_processor

    paths = sorted(p for p in PROCESSOR_FOLDER.glob("*.py") if p.name != "__init__.py")
    assert paths
    for path in paths:
        (info,) = inspect_module(path).processors
        spec = read_processor(path)
        java_side = ("Record Reader", "Record Writer") if spec.interface == "RecordTransform" else ()
        assert info.class_name == spec.class_name == path.stem
        assert info.interfaces == [f"org.apache.nifi.python.processor.{spec.interface}"]
        assert (info.version, " ".join(info.description.split())) == (spec.version, " ".join(spec.description.split()))
        assert info.property_names == [name for name in spec.property_names if name not in java_side]


def test_runtime_discovery_parses_nothing_itself() -> None:
    import ast

    import claimflow_offline.discovery as discovery

    tree = ast.parse(Path(discovery.__file__).read_text(encoding="utf-8"))
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert "ast.parse" not in calls and "parse_source" in calls
