"""Template helpers for the infrastructure tests (tests/infra only).

Templates are parsed with cfn-lint's own decoder, which understands the short-form intrinsic tags
(!GetAtt, !Ref, !Sub, !If ...) and turns them into their long JSON form ({"Fn::GetAtt": [...]}).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
SOURCE_TEMPLATE = INFRA / "claimflow-source.yaml"
TEMPLATES = sorted(p for p in INFRA.iterdir() if p.suffix in {".yaml", ".yml", ".json", ".template"})

# Parameter sets that switch on every optional part of the source template, so scanners that only evaluate
# parameter defaults (checkov) see the conditional resources too.
VARIANTS: dict[str, dict[str, str]] = {
    "defaults": {},
    "generator-outside-vpc": {"EnableClaimsGenerator": "true"},
    # An existing table used by name (no table resource), and the same declared for a resource import.
    "existing-table": {"ExistingTableName": "ClaimsOfRecord", "EnableClaimsGenerator": "true"},
    "existing-table-import": {"ExistingTableName": "ClaimsOfRecord", "ImportExistingTable": "true"},
    "generator-in-vpc-all-options": {
        "EnableClaimsGenerator": "true",
        "GeneratorVpcId": "vpc-0123456789abcdef0",
        "GeneratorSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "ConsumerExternalId": "claimflow-external-id",
        "KclPublishMetrics": "true",
        "AlarmEmail": "oncall@example.com",
        "StreamMode": "PROVISIONED",
        "ShardCount": "2",
    },
}


def load_template(path: Path) -> dict[str, Any]:
    template, matches = decode(str(path))
    assert not matches, f"{path} does not parse: {matches}"
    assert isinstance(template, dict)
    return template


def with_defaults(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """A copy of the template whose parameter defaults are replaced (to steer default-only evaluators)."""
    out = json.loads(json.dumps(template))
    for name, value in overrides.items():
        assert name in out["Parameters"], f"unknown parameter {name}"
        out["Parameters"][name]["Default"] = value
    return out


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def render(value: Any) -> str:
    """Canonical text of a scalar or intrinsic: GetAtt X.Arn -> ${X.Arn}, Ref X -> ${X}, Sub s -> s."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return "${" + arg + "}"
        if fn == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return "${" + ".".join(parts) + "}"
        if fn == "Fn::Sub":
            return arg if isinstance(arg, str) else arg[0]
    raise AssertionError(f"cannot render {value!r}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_documents(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM-style policy document (a mapping with a Statement) anywhere in the template."""
    if isinstance(node, dict):
        if "Statement" in node:
            yield where, node
        for key, child in node.items():
            yield from policy_documents(child, f"{where}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from policy_documents(child, f"{where}/{i}")


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for st in as_list(document["Statement"]):
        assert isinstance(st, dict), f"statement is not a mapping (conditional statements are not used): {st!r}"
        found.append(st)
    return found


# ---------------------------------------------------------------------------------------------------------------
# Rendering the template for one set of parameters, the way CloudFormation decides it before creating anything:
# conditions evaluated, resources and outputs whose condition is false dropped, Fn::If branches chosen, Refs to
# parameters and ${Parameter} in Fn::Sub replaced by the values. Refs and GetAtts of resources and pseudo parameters
# stay (only a deployment knows them), so render() still prints them as ${X} / ${X.Arn}.
# ---------------------------------------------------------------------------------------------------------------

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def parameter_values(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in template["Parameters"].items():
        if name not in overrides and "Default" not in spec:
            continue  # a required parameter left open stays a Ref (rendered ${Name})
        value = str(overrides.get(name, spec.get("Default")))
        values[name] = [v for v in value.split(",") if v] if spec["Type"] == "CommaDelimitedList" else value
    unknown = set(overrides) - set(values)
    assert not unknown, f"unknown parameters {sorted(unknown)}"
    return values


def _condition(template: dict[str, Any], name: str, values: dict[str, Any], seen: tuple[str, ...] = ()) -> bool:
    assert name not in seen, f"condition cycle {(*seen, name)}"
    return _truth(template, template["Conditions"][name], values, (*seen, name))


def _truth(template: dict[str, Any], node: Any, values: dict[str, Any], seen: tuple[str, ...]) -> bool:
    ((fn, arg),) = node.items()
    if fn == "Condition":
        return _condition(template, arg, values, seen)
    if fn == "Fn::Equals":
        left, right = (_scalar(template, a, values) for a in arg)
        return left == right
    if fn == "Fn::Not":
        return not _truth(template, arg[0], values, seen)
    if fn == "Fn::And":
        return all(_truth(template, a, values, seen) for a in arg)
    if fn == "Fn::Or":
        return any(_truth(template, a, values, seen) for a in arg)
    raise AssertionError(f"condition function {fn} not understood")


def _scalar(template: dict[str, Any], node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, str):
        return node
    ((fn, arg),) = node.items()
    if fn == "Ref":
        return values[arg]
    if fn == "Fn::Join":
        separator, parts = arg
        items = _scalar(template, parts, values) if isinstance(parts, dict) else parts
        return separator.join(_scalar(template, p, values) for p in items)
    raise AssertionError(f"{fn} in a condition is not understood")


def _resolve(template: dict[str, Any], node: Any, values: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_resolve(template, n, values) for n in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Fn::If":
            name, if_true, if_false = arg
            return _resolve(template, if_true if _condition(template, name, values) else if_false, values)
        if fn == "Ref" and arg in values:
            return values[arg]
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            known = {k: _resolve(template, v, values) for k, v in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match[1]
                value = known[name] if name in known else values.get(name, "${" + name + "}")
                return value if isinstance(value, str) else render(value)

            return {"Fn::Sub": _SUB_VARIABLE.sub(substitute, text)}
    return {k: _resolve(template, v, values) for k, v in node.items()}


def resolve(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """The resources and outputs CloudFormation would deploy from the template with these parameter values."""
    values = parameter_values(template, overrides)
    out: dict[str, Any] = {"Parameters": values}
    for section in ("Resources", "Outputs"):
        out[section] = {
            name: _resolve(template, {k: v for k, v in body.items() if k != "Condition"}, values)
            for name, body in template.get(section, {}).items()
            if "Condition" not in body or _condition(template, body["Condition"], values)
        }
    return out


def rules_hold(template: dict[str, Any], overrides: dict[str, str]) -> list[str]:
    """The AssertDescriptions of the template's Rules that these parameter values break (empty: it may deploy)."""
    values = parameter_values(template, overrides)
    broken = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not _truth(template, rule["RuleCondition"], values, ()):
            continue
        for assertion in rule["Assertions"]:
            if not _truth(template, assertion["Assert"], values, ()):
                broken.append(assertion["AssertDescription"])
    return broken
