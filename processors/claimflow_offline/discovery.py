"""NiFi's processor discovery rules, applied to source with ``ast`` exactly where NiFi would stumble.

NiFi never imports a module to find processors: ``ProcessorInspection`` parses it and looks for a class with an
inner ``class Java: implements = [...]`` naming a processor interface, reads ``ProcessorDetails`` literals,
``PropertyDescriptor(...)`` keyword arguments and call-style ``@use_case`` decorators. Anything it cannot read
is silently dropped or makes the whole module fail to load. ``check_folder`` reports each such problem, plus
ClaimFlow's own rules for the processor folder (one processor per file, named after the class, nothing else).

It reads source only through ``claimflow.flow.pyprocessors``, the one reader of processor files (parsing, the
classes NiFi looks at, assignments, descriptor calls, NiFi's value resolution); what is here are the checks.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.flow.pyprocessors import (
    PROCESSOR_INTERFACES,
    classes_in,
    descriptor_call,
    inner_classes,
    name_assignments,
    nifi_static_value,
    parse_source,
    string_constants,
)

_DECORATORS = ("use_case", "multi_processor_use_case")
_FORBIDDEN_IMPORTS = ("claimflow_offline",)


@dataclass
class ProcessorInfo:
    class_name: str
    interfaces: list[str]
    version: Any = None
    description: Any = None
    tags: Any = None
    dependencies: Any = None
    property_names: list[str] = field(default_factory=list)
    use_cases: int = 0


@dataclass
class ModuleReport:
    path: Path
    processors: list[ProcessorInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _literal(node: ast.AST | None) -> Any:
    """The value NiFi's ``get_constant_values`` would see, or raises ValueError for a non-literal."""
    if node is None:
        raise ValueError("missing")
    return ast.literal_eval(node)


def _java_interfaces(class_node: ast.ClassDef, problems: list[str]) -> list[str]:
    interfaces: list[str] = []
    for child in inner_classes(class_node, "Java"):
        for statement in child.body:
            if isinstance(statement, ast.Assign) and not all(isinstance(t, ast.Name) for t in statement.targets):
                problems.append(f"{class_node.name}.Java: only plain name assignments are readable by NiFi")
        value = name_assignments(child, single_target=True).get("implements")
        if not isinstance(value, ast.List):
            problems.append(f"{class_node.name}.Java.implements must be a list literal")
            continue
        try:
            names = _literal(value)
        except ValueError:
            problems.append(f"{class_node.name}.Java.implements must hold string literals")
            continue
        interfaces.extend(name for name in names if name in PROCESSOR_INTERFACES)
    return interfaces


def _check_details(class_node: ast.ClassDef, info: ProcessorInfo, problems: list[str]) -> None:
    details = next(iter(inner_classes(class_node, "ProcessorDetails")), None)
    where = f"{class_node.name}.ProcessorDetails"
    if details is None:
        problems.append(f"{where} is missing (NiFi would list version 'Unknown' and no documentation)")
        return
    for statement in details.body:
        if isinstance(statement, ast.Assign) and not all(isinstance(t, ast.Name) for t in statement.targets):
            problems.append(f"{where}: only plain name assignments are readable by NiFi")
    values = name_assignments(details, single_target=True)
    expected = {"version": str, "description": str, "tags": list, "dependencies": list}
    for name, kind in expected.items():
        node = values.get(name)
        try:
            value = _literal(node)
        except ValueError:
            problems.append(f"{where}.{name} must be a literal {kind.__name__}")
            continue
        if not isinstance(value, kind):
            problems.append(f"{where}.{name} is a {type(value).__name__}, not a {kind.__name__} (a trailing comma?)")
            continue
        if kind is list and not all(isinstance(item, str) for item in value):
            problems.append(f"{where}.{name} must list strings only")
        setattr(info, name, value)


def _check_decorators(class_node: ast.ClassDef, info: ProcessorInfo, problems: list[str]) -> None:
    for decorator in class_node.decorator_list:
        # NiFi reads decorator.func.id: a bare @name or a dotted call makes the whole module fail to load.
        if not isinstance(decorator, ast.Call) or not isinstance(decorator.func, ast.Name):
            problems.append(f"{class_node.name}: only call-style decorators by bare name (@use_case(...)) are allowed")
            continue
        if decorator.func.id not in _DECORATORS:
            continue
        if decorator.args or not decorator.keywords:
            problems.append(f"{class_node.name}: @{decorator.func.id} must use keyword arguments only")
            continue
        info.use_cases += 1
        for keyword in decorator.keywords:
            if keyword.arg == "configurations":
                calls = keyword.value.elts if isinstance(keyword.value, ast.List) else []
                for call in calls:
                    if not (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Name)
                        and call.func.id == "ProcessorConfiguration"
                        and call.keywords
                        and not call.args
                    ):
                        problems.append(f"{class_node.name}: configurations must be ProcessorConfiguration(k=v) calls")
            elif not isinstance(keyword.value, (ast.Constant, ast.List)):
                problems.append(f"{class_node.name}: @{decorator.func.id}({keyword.arg}=...) must be a literal")


# Descriptor arguments NiFi's documentation shows: each must resolve under NiFi's static rules.
_DOCUMENTED_ARGUMENTS = ("name", "description", "display_name", "default_value", "allowable_values")


def _check_descriptors(
    class_node: ast.ClassDef, info: ProcessorInfo, problems: list[str], strings: dict[str, str]
) -> None:
    known: set[str] = set()
    for statement in class_node.body:
        if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)):
            continue
        func = statement.value.func
        if isinstance(func, ast.Attribute) and func.attr == "PropertyDescriptor":
            problems.append(f"{class_node.name}: call PropertyDescriptor by its bare name or NiFi will not document it")
            continue
        call = descriptor_call(statement)
        if call is None:
            continue
        variable = statement.targets[0].id if isinstance(statement.targets[0], ast.Name) else "?"
        if call.args or not call.keywords:
            problems.append(f"{class_node.name}.{variable}: PropertyDescriptor must use keyword arguments only")
            continue
        keywords = {k.arg: k.value for k in call.keywords}
        for required in ("name", "description"):
            if required not in keywords:
                problems.append(f"{class_node.name}.{variable}: PropertyDescriptor lacks {required}=")
        for argument in _DOCUMENTED_ARGUMENTS:
            node = keywords.get(argument)
            value = nifi_static_value(node, strings) if node is not None else ""
            if value is None or (isinstance(value, list) and None in value):
                problems.append(
                    f"{class_node.name}.{variable}: NiFi's static inspection cannot resolve {argument}="
                    f"{ast.unparse(node)} (write a literal or a string constant of this file)"  # type: ignore[arg-type]
                )
        name_node = keywords.get("name")
        if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str):
            info.property_names.append(name_node.value)
        dependencies = keywords.get("dependencies")
        if dependencies is not None:
            for dependency in dependencies.elts if isinstance(dependencies, ast.List) else []:
                first = dependency.args[0] if isinstance(dependency, ast.Call) and dependency.args else None
                ref = None
                if isinstance(first, ast.Name):
                    ref = first.id
                elif isinstance(first, ast.Attribute):
                    ref = first.attr
                if ref not in known:
                    problems.append(f"{class_node.name}.{variable}: dependency on an undefined descriptor {ref!r}")
        known.add(variable)


def _check_init(class_node: ast.ClassDef, problems: list[str]) -> None:
    for statement in class_node.body:
        if isinstance(statement, ast.FunctionDef) and statement.name == "__init__" and statement.args.kwarg is None:
            problems.append(f"{class_node.name}.__init__ must accept **kwargs (NiFi passes jvm=...)")


def _check_imports(tree: ast.Module, problems: list[str]) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(f"line {node.lineno}: relative import (NiFi loads the file under its bare name)")
            elif node.module and node.module.split(".")[0] in _FORBIDDEN_IMPORTS:
                problems.append(f"line {node.lineno}: imports {node.module} (offline tooling never ships to NiFi)")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in _FORBIDDEN_IMPORTS:
                    problems.append(f"line {node.lineno}: imports {alias.name} (offline tooling never ships to NiFi)")


def shadowed_module(stem: str, own_path: Path | None = None) -> str | None:
    """What an importable module named ``stem`` would collide with (stdlib or installed distribution);
    the module at ``own_path`` itself (e.g. already loaded by the offline runner) does not count."""
    if stem in sys.stdlib_module_names or stem in sys.builtin_module_names:
        return "a standard-library module"
    if stem in importlib.metadata.packages_distributions():
        return "an installed third-party module"
    spec = importlib.util.find_spec(stem)
    if spec is not None and not (own_path and spec.origin and Path(spec.origin).resolve() == own_path.resolve()):
        return "an importable module"
    return None


def inspect_module(path: Path) -> ModuleReport:
    """Everything NiFi's discovery would read from one processor file, and what it would choke on."""
    report = ModuleReport(path)
    try:
        tree = parse_source(path)
    except SyntaxError as error:
        report.problems.append(f"syntax error: {error}")
        return report
    _check_imports(tree, report.problems)
    for class_node in classes_in(tree):
        interfaces = _java_interfaces(class_node, report.problems)
        if not interfaces:
            continue
        info = ProcessorInfo(class_node.name, interfaces)
        _check_details(class_node, info, report.problems)
        _check_decorators(class_node, info, report.problems)
        _check_descriptors(class_node, info, report.problems, string_constants(tree))
        _check_init(class_node, report.problems)
        report.processors.append(info)
    return report


def is_processor_module(path: Path) -> bool:
    return bool(inspect_module(path).processors)


def check_folder(folder: Path, *, check_shadowing: bool = True) -> list[str]:
    """Problems that would stop NiFi from discovering every processor in ``folder`` (empty = all good).

    ClaimFlow's rules on top of NiFi's: only ``__init__.py`` and processor modules; one processor per module;
    the module is named after its class; no module name that shadows an importable module.
    """
    problems: list[str] = []
    if not (folder / "__init__.py").is_file():
        problems.append(f"{folder.name}: missing __init__.py (NiFi scans package folders one level deep)")
    for path in sorted(folder.iterdir()):
        if path.name == "__init__.py" or path.name == "__pycache__":
            continue
        if path.suffix != ".py":
            problems.append(f"{path.name}: only processor modules belong in the processor folder")
            continue
        report = inspect_module(path)
        problems.extend(f"{path.name}: {p}" for p in report.problems)
        if not report.processors:
            problems.append(f"{path.name}: not a processor module (no class with Java.implements)")
            continue
        if len(report.processors) != 1:
            problems.append(f"{path.name}: holds {len(report.processors)} processors; one per file")
        if report.processors[0].class_name != path.stem:
            problems.append(f"{path.name}: module name differs from its class {report.processors[0].class_name}")
        collision = shadowed_module(path.stem, path) if check_shadowing else None
        if collision:
            problems.append(f"{path.name}: module name shadows {collision}")
    return problems
