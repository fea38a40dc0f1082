"""Template helpers for the infrastructure tests (tests/infra only).

Templates are parsed with cfn-lint's own decoder, which understands the short-form intrinsic tags
(!GetAtt, !Ref, !Sub, !If ...) and turns them into their long JSON form ({"Fn::GetAtt": [...]}).
"""

from __future__ import annotations

import json
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
