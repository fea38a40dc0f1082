"""The shipped flows are secure by default: pseudonymisation with a required sensitive key parameter in both, and
the Openflow flow authenticates with the Snowflake-managed strategy (key pair stays the BYOC option)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from claimflow.flow.pyprocessors import PROCESSOR_FOLDER, read_processors

FLOWS = Path(__file__).resolve().parents[2] / "flow-definitions"


def _parameters(name: str) -> dict[str, dict[str, Any]]:
    document = json.loads((FLOWS / name).read_text(encoding="utf-8"))
    (context,) = document["parameterContexts"].values()
    return {p["name"]: p for p in context["parameters"]}


@pytest.mark.parametrize("name", ["claimflow-nifi.json", "claimflow-openflow.json"])
def test_the_key_parameter_is_sensitive_required_and_unset(name: str) -> None:
    key = _parameters(name)["ClaimFlow HMAC Key"]
    assert key["sensitive"] is True and key.get("value") is None  # must be set by the operator
    assert "required" in key["description"] and "openssl rand" in key["description"]


@pytest.mark.parametrize("name", ["claimflow-nifi.json", "claimflow-openflow.json"])
def test_flows_pseudonymise_by_default_and_the_key_is_then_required(name: str) -> None:
    from claimflow.flow.wiring import load_python_pipeline

    assert _parameters(name)["ClaimFlow PHI Handling"]["value"] == "Pseudonymize"
    (claims,) = [s for s in load_python_pipeline(FLOWS / name).stages if "PHI Handling" in s.properties]
    assert claims.properties["PHI Handling"] == "Pseudonymize"  # what the processor gets on import
    assert claims.properties["HMAC Key"] is None  # unset: the processor is invalid until an operator sets it
    spec = read_processors(PROCESSOR_FOLDER)[claims.type]
    (key,) = [p for p in spec.properties if p.name == "HMAC Key"]
    assert key.required and key.sensitive  # required whenever PHI Handling is a keyed mode (its dependency)


def test_the_secure_default_is_the_flows_own_override_of_the_processors_default() -> None:
    from claimflow.flow.definitions import PROPERTY_DEFAULT_OVERRIDES, SECURE_DEFAULTS

    assert PROPERTY_DEFAULT_OVERRIDES == SECURE_DEFAULTS == {"PHI Handling": "Pseudonymize"}
    for name in ("TransformClaimChange", "ProcessClaimChange"):  # the override is what makes the flows secure
        (phi,) = [p for p in read_processors(PROCESSOR_FOLDER)[name].properties if p.name == "PHI Handling"]
        assert phi.default == "Pass Through", name
    # That flow-definitions/ is a fresh export (`claimflow flow export`), not hand-edited: tests/ship/test_ship_flows


def test_openflow_defaults_to_the_snowflake_managed_strategy() -> None:
    parameters = _parameters("claimflow-openflow.json")
    strategy = parameters["Snowflake Authentication Strategy"]
    assert strategy["value"] == "SNOWFLAKE_MANAGED" and "KEY_PAIR for BYOC" in strategy["description"]
    document = json.loads((FLOWS / "claimflow-openflow.json").read_text(encoding="utf-8"))
    puts = [p for p in document["flowContents"]["processors"] if p["type"].endswith("PutSnowpipeStreaming")]
    assert len(puts) == 2 and all(p["comments"].startswith("UNVERIFIED type") for p in puts)
