"""Read ClaimFlow's Python processors from their source, the way NiFi does (``ast``, never importing them).

The flow definitions take each Python processor's type, bundle version, property names and relationships from
here, so a renamed property or a new relationship in ``claimflow_processors`` shows up as a changed flow file
(and a failing regeneration test) instead of a flow NiFi imports with a dangling property.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PROCESSOR_FOLDER = Path(__file__).resolve().parents[2] / "claimflow_processors"

_INTERFACE_PREFIX = "org.apache.nifi.python.processor."
# What NiFi's Java proxies add to every Python processor of a kind (PythonProcessorProxy, RecordTransformProxy).
IMPLICIT_RELATIONSHIPS = ("original", "failure")
RECORD_READER = "Record Reader"
RECORD_WRITER = "Record Writer"


class ProcessorSourceError(ValueError):
    """A processor module NiFi could not read the way the flow generator needs (names the file and the part)."""


@dataclass(frozen=True)
class PropertySpec:
    name: str
    required: bool = False
    sensitive: bool = False
    default: str | None = None
    controller_service: bool = False  # identifies a controller service (value = the service's identifier)
    display_name: str | None = None
    default_readable: bool = True  # False: the default is an expression (e.g. TableNames().staging), not a literal


@dataclass(frozen=True)
class ProcessorSpec:
    class_name: str
    path: Path
    interface: str  # FlowFileTransform | RecordTransform | FlowFileSource
    version: str
    description: str
    properties: tuple[PropertySpec, ...]
    relationships: tuple[str, ...]  # every relationship NiFi shows, implicit ones included

    def get_property(self, name: str) -> PropertySpec:
        """Raises KeyError naming the processor when it has no such property."""
        for spec in self.properties:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.class_name} has no property {name!r}; it has {[p.name for p in self.properties]}")

    @property
    def property_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)


def _constants(tree: ast.Module) -> dict[str, object]:
    """Module-level and class-level ``NAME = <literal>`` assignments, for names used inside descriptors."""
    found: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


def _value(node: ast.AST, constants: dict[str, object], where: str) -> object:
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.Attribute) and node.attr in constants:
        return constants[node.attr]
    try:
        return ast.literal_eval(node)
    except ValueError as error:
        raise ProcessorSourceError(
            f"{where}: {ast.unparse(node)} is not a literal the flow generator can read"
        ) from error


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _keywords(call: ast.Call, positional: tuple[str, ...]) -> dict[str, ast.AST]:
    arguments: dict[str, ast.AST] = dict(zip(positional, call.args, strict=False))
    arguments.update({k.arg: k.value for k in call.keywords if k.arg})
    return arguments


def _read_property(call: ast.Call, constants: dict[str, object], where: str) -> PropertySpec:
    args = _keywords(call, ("name", "description", "required", "sensitive", "display_name", "default_value"))
    if "name" not in args:
        raise ProcessorSourceError(f"{where}: PropertyDescriptor without a name")

    def flag(key: str) -> bool:
        return bool(_value(args[key], constants, where)) if key in args else False

    default: object = None
    readable = True
    if "default_value" in args:
        try:
            default = _value(args["default_value"], constants, where)
        except ProcessorSourceError:
            readable = False  # NiFi evaluates it at runtime; the flow then leaves the property to its default
    display = _value(args["display_name"], constants, where) if "display_name" in args else None
    return PropertySpec(
        name=str(_value(args["name"], constants, where)),
        required=flag("required"),
        sensitive=flag("sensitive"),
        default=None if default is None else str(default),
        controller_service="controller_service_definition" in args,
        display_name=None if display is None else str(display),
        default_readable=readable,
    )


def read_processor(path: Path) -> ProcessorSpec:
    """The one processor class in ``path``.

    Raises:
        ProcessorSourceError: no processor class, several, or a detail that is not a readable literal.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    constants = _constants(tree)
    classes = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        java = next((c for c in node.body if isinstance(c, ast.ClassDef) and c.name == "Java"), None)
        if java is None:
            continue
        implements = [
            _value(s.value, constants, f"{path.name}: {node.name}.Java")
            for s in java.body
            if isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "implements" for t in s.targets)
        ]
        interfaces = [i for value in implements for i in (value if isinstance(value, list) else [])]
        kinds = [i.removeprefix(_INTERFACE_PREFIX) for i in interfaces if str(i).startswith(_INTERFACE_PREFIX)]
        if kinds:
            classes.append((node, kinds[0]))
    if len(classes) != 1:
        raise ProcessorSourceError(f"{path.name}: expected one processor class, found {len(classes)}")
    node, interface = classes[0]
    where = f"{path.name}: {node.name}"
    details = next((c for c in node.body if isinstance(c, ast.ClassDef) and c.name == "ProcessorDetails"), None)
    if details is None:
        raise ProcessorSourceError(f"{where}: no ProcessorDetails (NiFi needs its version in the flow bundle)")
    detail_values = {
        t.id: s.value for s in details.body if isinstance(s, ast.Assign) for t in s.targets if isinstance(t, ast.Name)
    }
    version = _value(detail_values["version"], constants, where) if "version" in detail_values else None
    if not isinstance(version, str):
        raise ProcessorSourceError(f"{where}: ProcessorDetails.version must be a string literal, got {version!r}")
    description = detail_values.get("description")
    described = _value(description, constants, where) if description is not None else ""

    properties: list[PropertySpec] = []
    relationships: list[str] = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = _call_name(call)
        if name == "PropertyDescriptor":
            properties.append(_read_property(call, constants, where))
        elif name == "Relationship":
            args = _keywords(call, ("name",))
            if "name" in args:
                relationships.append(str(_value(args["name"], constants, where)))
    if interface == "RecordTransform":
        properties[:0] = [
            PropertySpec(RECORD_READER, required=True, controller_service=True),
            PropertySpec(RECORD_WRITER, required=True, controller_service=True),
        ]
    defines_relationships = any(isinstance(f, ast.FunctionDef) and f.name == "getRelationships" for f in node.body)
    if not defines_relationships:
        relationships.insert(0, "success")
    for implicit in IMPLICIT_RELATIONSHIPS:
        if implicit not in relationships:
            relationships.append(implicit)
    return ProcessorSpec(
        class_name=node.name,
        path=path,
        interface=interface,
        version=version,
        description=str(described),
        properties=tuple(dict.fromkeys(properties)),
        relationships=tuple(dict.fromkeys(relationships)),
    )


def read_processors(folder: Path = PROCESSOR_FOLDER) -> dict[str, ProcessorSpec]:
    """Every processor module in ``folder`` by class name.

    Raises:
        ProcessorSourceError: see ``read_processor``.
    """
    specs = {}
    for path in sorted(folder.glob("*.py")):
        if path.name != "__init__.py":
            spec = read_processor(path)
            specs[spec.class_name] = spec
    return specs
