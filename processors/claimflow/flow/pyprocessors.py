"""Read ClaimFlow's Python processors from their source, the way NiFi does (``ast``, never importing them).

This is the one reader of processor source: parsing, the classes NiFi looks at, their assignments, descriptor
calls and how NiFi's static inspection resolves a value (``nifi_static_value``). ``read_processor`` builds a
``ProcessorSpec`` from it; ``claimflow_offline.discovery`` checks a processor folder with the same primitives.

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
# The interfaces NiFi recognises a processor class by (its Java.implements names one of them).
PROCESSOR_INTERFACES = tuple(
    f"{_INTERFACE_PREFIX}{kind}" for kind in ("FlowFileTransform", "RecordTransform", "FlowFileSource")
)
# What NiFi's Java proxies add to every Python processor of a kind (PythonProcessorProxy, RecordTransformProxy).
IMPLICIT_RELATIONSHIPS = ("original", "failure")
RECORD_READER = "Record Reader"
RECORD_WRITER = "Record Writer"


class ProcessorSourceError(ValueError):
    """A processor module NiFi could not read the way the flow generator needs (names the file and the part)."""


@dataclass(frozen=True)
class PropertySpec:
    """A property as NiFi documents it (the processor definition and runtime manifest, from static inspection).

    A value NiFi's inspection cannot resolve is ``None`` here too: a default written as an expression, or allowable
    values held in a list constant, are missing from NiFi's documentation and from a flow's defaults.
    """

    name: str
    required: bool = False
    sensitive: bool = False
    default: str | None = None
    controller_service: bool = False  # identifies a controller service (value = the service's identifier)
    display_name: str | None = None
    default_readable: bool = True  # False: NiFi's inspection cannot resolve the default (e.g. TableNames().staging)
    description: str | None = None
    allowable_values: tuple[str, ...] | None = None
    dependencies: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (property name, dependent values)
    expression_language_scope: str = "NONE"


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


def string_constants(tree: ast.Module) -> dict[str, str]:
    """``NAME = "text"`` assignments anywhere in the module (module, class or function level): the only names NiFi's
    ``ProcessorInspection`` resolves inside a descriptor. A name bound to a list, a number, an imported name or an
    expression resolves to nothing there."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def nifi_static_value(node: ast.AST | None, strings: dict[str, str]) -> object:
    """What NiFi's static inspection makes of a value in processor source (its rules, as read in
    ``ProcessorInspection.get_constant_values`` of NiFi 2.9-2.11): a literal is itself, a name is its string constant
    or nothing, a list is resolved item by item, an attribute is its last name (``ExpressionLanguageScope.NONE`` ->
    ``"NONE"``), ``a + b`` joins the resolvable sides; anything else (a call, a subscript, a non-string constant's
    name) is ``None``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return strings.get(node.id)
    if isinstance(node, ast.List):
        return [nifi_static_value(item, strings) for item in node.elts]
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = nifi_static_value(node.left, strings), nifi_static_value(node.right, strings)
        if left and right:
            return left + right  # type: ignore[operator]
        return left or right
    return None


def parse_source(path: Path) -> ast.Module:
    """The module's syntax tree, as NiFi parses it (raises SyntaxError)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def classes_in(node: ast.AST) -> list[ast.ClassDef]:
    """Classes directly in a module's or class's body: NiFi looks for processors (and their ``Java`` and
    ``ProcessorDetails``) there, never deeper."""
    return [child for child in getattr(node, "body", []) if isinstance(child, ast.ClassDef)]


def inner_classes(node: ast.ClassDef, name: str) -> list[ast.ClassDef]:
    return [child for child in classes_in(node) if child.name == name]


def name_assignments(node: ast.ClassDef, *, single_target: bool = False) -> dict[str, ast.AST]:
    """``NAME = value`` statements of a class body by name, the last one winning. ``single_target`` keeps only
    statements with one target (a checker flags the others instead of reading them)."""
    found: dict[str, ast.AST] = {}
    for statement in node.body:
        if isinstance(statement, ast.Assign) and (not single_target or len(statement.targets) == 1):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = statement.value
    return found


def descriptor_call(statement: ast.AST) -> ast.Call | None:
    """The ``PropertyDescriptor(...)`` call an assignment makes, called by its bare name (the only form NiFi
    documents), else None."""
    if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        if isinstance(func, ast.Name) and func.id == "PropertyDescriptor":
            return statement.value
    return None


def _value(node: ast.AST, strings: dict[str, str], where: str) -> object:
    """A value the flow generator needs: resolvable as NiFi resolves it, or an error naming the place."""
    value = nifi_static_value(node, strings)
    if value is None or (isinstance(value, list) and None in value):
        raise ProcessorSourceError(f"{where}: NiFi's static inspection cannot resolve {ast.unparse(node)}")
    return value


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _keywords(call: ast.Call, positional: tuple[str, ...]) -> dict[str, ast.AST]:
    arguments: dict[str, ast.AST] = dict(zip(positional, call.args, strict=False))
    arguments.update({k.arg: k.value for k in call.keywords if k.arg})
    return arguments


def _read_property(call: ast.Call, strings: dict[str, str], known: dict[str, str], where: str) -> PropertySpec:
    """One ``PropertyDescriptor(...)`` as NiFi documents it. ``known`` maps the variables of descriptors read so far
    to their property names (NiFi resolves a dependency only on a descriptor of the same class, by variable)."""
    args = {k.arg: k.value for k in call.keywords if k.arg}
    if call.args or "name" not in args:
        raise ProcessorSourceError(f"{where}: PropertyDescriptor needs keyword arguments and a name (NiFi reads those)")

    def resolved(key: str) -> object:
        return nifi_static_value(args.get(key), strings) if key in args else None

    default = resolved("default_value")
    allowable = resolved("allowable_values")
    dependencies = []
    listed = args.get("dependencies")
    for dependency in listed.elts if isinstance(listed, ast.List) else []:
        if not isinstance(dependency, ast.Call) or not dependency.args:
            continue
        first = dependency.args[0]
        if not isinstance(first, ast.Name) or first.id not in known:
            continue  # NiFi logs "Not able to find actual property descriptor" and drops the dependency
        values = tuple(str(nifi_static_value(v, strings)) for v in dependency.args[1:])
        dependencies.append((known[first.id], values))
    display = resolved("display_name")
    name = str(_value(args["name"], strings, where))
    description = resolved("description")
    return PropertySpec(
        name=name,
        required=bool(resolved("required")),
        sensitive=bool(resolved("sensitive")),
        default=None if default is None else str(default),
        controller_service="controller_service_definition" in args,
        display_name=None if display is None else str(display),
        default_readable="default_value" not in args or default is not None,
        description=None if description is None else str(description),
        allowable_values=None if not isinstance(allowable, list) else tuple(str(v) for v in allowable),
        dependencies=tuple(dependencies),
        expression_language_scope=str(resolved("expression_language_scope") or "NONE"),
    )


def read_processor(path: Path) -> ProcessorSpec:
    """The one processor class in ``path``.

    Raises:
        ProcessorSourceError: no processor class, several, or a detail that is not a readable literal.
    """
    tree = parse_source(path)
    constants = string_constants(tree)
    classes = []
    for node in classes_in(tree):
        java = next(iter(inner_classes(node, "Java")), None)
        if java is None:
            continue
        implements = [
            nifi_static_value(s.value, constants)
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
    details = next(iter(inner_classes(node, "ProcessorDetails")), None)
    if details is None:
        raise ProcessorSourceError(f"{where}: no ProcessorDetails (NiFi needs its version in the flow bundle)")
    detail_values = name_assignments(details)
    version = nifi_static_value(detail_values.get("version"), {})  # NiFi resolves no names in ProcessorDetails
    if not isinstance(version, str):
        raise ProcessorSourceError(f"{where}: ProcessorDetails.version must be a string literal, got {version!r}")
    description = detail_values.get("description")
    described = nifi_static_value(description, {}) if description is not None else ""

    properties: list[PropertySpec] = []
    known: dict[str, str] = {}
    for statement in (n for n in ast.walk(node) if isinstance(n, ast.Assign)):
        call = descriptor_call(statement)
        if call is not None:
            spec = _read_property(call, constants, known, where)
            target = statement.targets[0]
            variable = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
            known[variable] = spec.name
            properties.append(spec)
    relationships: list[str] = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        if _call_name(call) == "Relationship":
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
