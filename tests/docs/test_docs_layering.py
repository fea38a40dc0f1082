"""No module of ``processors/claimflow`` imports a module above it, by the layering docs/index.md states.

Every import counts, also one inside a function or under ``TYPE_CHECKING``: a lazy import is a dependency too.
A module belongs to a *unit* (a top-level module or subpackage of ``claimflow``, or one module named on its own,
such as ``claims.mapping``); it may import modules of its own unit and of any lower layer, never of its layer's
other units or of a higher layer. An import names the module it imports from (``from claimflow.claims.mapping
import x`` depends on ``claims.mapping``, ``from claimflow.claims import x`` on the ``claims`` package).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "processors"
PACKAGE = "claimflow"

# Lowest first. A unit is named relative to claimflow; "" is the package itself (claimflow/__init__.py).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("caching",),
    ("", "names", "rows", "claims.mapping"),
    ("dynamodb", "kinesis", "event_time"),
    ("framing",),
    ("events",),
    ("claims",),
    ("record_routing", "snowflake", "backfill"),
    ("flow",),
    ("demo", "bench"),
    ("commands",),
    ("cli",),
)
# Packages beside claimflow that build on it: the processors and the offline NiFi runtime that runs them. Only the
# harnesses (demo, bench) and what is above them run the processors through them; nothing imports nifiapi itself.
ABOVE_THE_CORE = ("claimflow_processors", "claimflow_offline")
HARNESSES = LAYERS.index(("demo", "bench"))

# Inside `snowflake`, lowest first, by module ("" is snowflake/__init__.py): the merge semantics, then the merge SQL
# and the object names, the tables, the views and governance, monitoring (which lists the PHI columns), the script
# assembly, and the writers and the command line on top.
SNOWFLAKE = "snowflake"
SNOWFLAKE_LAYERS: tuple[tuple[str, ...], ...] = (
    ("spec",),
    ("merge_sql", "naming"),
    ("tables",),
    ("views", "governance"),
    ("monitoring",),
    ("ddl",),
    ("connector",),
    ("snowpark_merge",),
    ("service",),
    ("", "__main__"),
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted((ROOT / PACKAGE).rglob("*.py"))}


def _relative(module: str) -> str:
    return module.removeprefix(PACKAGE).removeprefix(".")


def _unit(module: str) -> tuple[int, str]:
    """(layer, unit) of a claimflow module: the longest unit name that is the module or a package around it."""
    name = _relative(module)
    best: tuple[int, str] | None = None
    for layer, units in enumerate(LAYERS):
        for unit in units:
            if (unit == "" or name == unit or name.startswith(unit + ".")) and (
                best is None or len(unit) > len(best[1])
            ):
                best = (layer, unit)
    assert best is not None
    return best


def _imports(module: str, path: Path, source: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the source, relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                # `from claimflow.claims import mapping` imports the submodule; `import x` from a module, the module.
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if submodule in MODULES else base))
    return found


def _check_source(module: str, path: Path, source: str) -> list[str]:
    layer, unit = _unit(module)
    problems = []
    for line, imported in _imports(module, path, source):
        top = imported.split(".")[0]
        if top == "nifiapi" or (top in ABOVE_THE_CORE and layer < HARNESSES):
            problems.append(f"{path.relative_to(REPO)}:{line} imports {imported}, which builds on the core")
            continue
        if top != PACKAGE or imported == module:
            continue
        assert imported in MODULES, f"{path.relative_to(REPO)}:{line} imports {imported}, which does not exist"
        their_layer, their_unit = _unit(imported)
        if their_unit != unit and their_layer >= layer:
            problems.append(
                f"{path.relative_to(REPO)}:{line} ({unit or PACKAGE}, layer {layer}) imports {imported} "
                f"({their_unit or PACKAGE}, layer {their_layer})"
            )
    return problems


def test_every_unit_exists_and_every_module_has_one() -> None:
    units = [unit for layer in LAYERS for unit in layer]
    assert len(units) == len(set(units))
    for unit in units:
        assert ".".join(filter(None, (PACKAGE, unit))) in MODULES, f"unit {unit!r} names no module"
    tops = {_relative(module).split(".")[0] for module in MODULES} - {""}
    assert tops <= set(units), f"modules outside every layer: {sorted(tops - set(units))}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_module_above_it(module: str) -> None:
    path = MODULES[module]
    assert _check_source(module, path, path.read_text(encoding="utf-8")) == []


def test_the_check_catches_an_upward_import() -> None:
    decoder = REPO / "processors" / PACKAGE / "dynamodb.py"
    source = "def f():\n    from claimflow.claims.validate import x\n    from . import events\n"
    tree_path = decoder.with_name("_layering_probe.py")
    assert _unit("claimflow.claims.validate") == (5, "claims")
    assert _unit("claimflow.claims.mapping") == (1, "claims.mapping")
    assert _unit("claimflow") == (1, "")
    problems = _check_source("claimflow.dynamodb", tree_path, source)
    assert len(problems) == 2
    assert "imports claimflow.claims.validate (claims, layer 5)" in problems[0]
    assert "imports claimflow.events (events, layer 4)" in problems[1]


def _snowflake_layer(module: str) -> int:
    name = _relative(module).removeprefix(SNOWFLAKE).removeprefix(".")
    return next(layer for layer, units in enumerate(SNOWFLAKE_LAYERS) if name in units)


def _snowflake_problems(module: str, path: Path, source: str) -> list[str]:
    """Imports of a snowflake module from a module of its own inner layer or above (its own module aside)."""
    layer = _snowflake_layer(module)
    inside = f"{PACKAGE}.{SNOWFLAKE}"
    return [
        f"{path.relative_to(REPO)}:{line} (layer {layer} of {SNOWFLAKE}) imports {imported}"
        for line, imported in _imports(module, path, source)
        if (imported == inside or imported.startswith(inside + "."))
        and imported != module
        and _snowflake_layer(imported) >= layer
    ]


SNOWFLAKE_MODULES = sorted(
    m for m in MODULES if m == f"{PACKAGE}.{SNOWFLAKE}" or m.startswith(f"{PACKAGE}.{SNOWFLAKE}.")
)


def test_every_snowflake_module_has_a_layer() -> None:
    names = [unit for layer in SNOWFLAKE_LAYERS for unit in layer]
    assert len(names) == len(set(names))
    assert sorted(_relative(m).removeprefix(SNOWFLAKE).removeprefix(".") for m in SNOWFLAKE_MODULES) == sorted(names)


@pytest.mark.parametrize("module", SNOWFLAKE_MODULES)
def test_no_snowflake_module_imports_one_beside_or_above_it(module: str) -> None:
    path = MODULES[module]
    assert _snowflake_problems(module, path, path.read_text(encoding="utf-8")) == []


def test_the_snowflake_check_catches_an_upward_import() -> None:
    path = ROOT / PACKAGE / SNOWFLAKE / "tables.py"
    source = "from claimflow.snowflake import ddl\nfrom claimflow.snowflake.naming import Names\n"
    source += "from claimflow.snowflake.spec import TableNames\n"
    problems = _snowflake_problems("claimflow.snowflake.tables", path, source)
    assert problems == [f"{path.relative_to(REPO)}:1 (layer 2 of snowflake) imports claimflow.snowflake.ddl"]
    sideways = _snowflake_problems("claimflow.snowflake.views", path, "from claimflow.snowflake import governance\n")
    assert len(sideways) == 1


def test_docs_index_states_this_layering() -> None:
    stated = " < ".join(", ".join(f"`{unit or PACKAGE}`" for unit in layer) for layer in LAYERS)
    index = " ".join((REPO / "docs" / "index.md").read_text(encoding="utf-8").split())
    assert stated in index, f"docs/index.md should state the layering as: {stated}"


def test_docs_index_states_the_snowflake_layering() -> None:
    stated = " < ".join(
        ", ".join(f"`{SNOWFLAKE}/__init__`" if not unit else f"`{unit}`" for unit in layer)
        for layer in SNOWFLAKE_LAYERS
    )
    index = " ".join((REPO / "docs" / "index.md").read_text(encoding="utf-8").split())
    assert stated in index, f"docs/index.md should state the layering inside snowflake as: {stated}"
