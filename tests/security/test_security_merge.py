"""MergeClaimsToSnowflake: identifiers cannot inject SQL, secrets are sensitive, and cdc.error / log lines never
carry a data value (including a column name that is not in the row contract)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from claimflow.claims import ClaimSettings, route_records_fused
from claimflow.claims.synthetic import claim_records
from claimflow_offline.runner import PROCESSORS_DIR, TestRunner, load_processor_class

CANARY = "PHI-CANARY-123"
INJECTIONS = (
    "CDC; DROP TABLE CLAIMS_CURRENT",
    'CDC" ; GRANT ROLE ACCOUNTADMIN TO USER X; --',
    "CDC'--",
    "CDC.OTHER",
    "CDC\nDROP",
    "1CDC",
    "",
)


def _configured(local_testing: bool, factory: Any = None) -> TestRunner:
    base = load_processor_class(PROCESSORS_DIR / "MergeClaimsToSnowflake.py")

    class WithFactory(base):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(session_factory=factory, **kwargs)

    runner = TestRunner(WithFactory)
    runner.set_property("Account", "myorg-myaccount")
    runner.set_property("User", "CLAIMFLOW_SVC")
    runner.set_property("Password", "not-a-real-password")
    runner.set_property("Authentication Strategy", "PASSWORD")
    runner.set_property("Snowpark Local Testing", "true" if local_testing else "false")
    return runner


@pytest.mark.parametrize(
    "prop", ["Database", "Schema", "Role", "Warehouse", "Staging Table", "History Table", "Destination Table"]
)
@pytest.mark.parametrize("value", INJECTIONS, ids=range(len(INJECTIONS)))
def test_identifier_properties_refuse_sql(prop: str, value: str) -> None:
    runner = _configured(local_testing=False)
    runner.assert_valid()
    runner.set_property(prop, value)
    if prop == "Role" and value == "":
        runner.assert_valid()  # no role: the user's default role
        return
    problems = runner.assert_not_valid()
    assert problems
    text = " ".join(str(p.explanation) for p in problems)
    assert value not in text or not value


def test_account_and_user_refuse_anything_but_plain_names() -> None:
    for prop, value in (("Account", "evil.example.com/x"), ("Account", "a b"), ("User", "x' OR 1=1"), ("User", "")):
        runner = _configured(local_testing=False)
        runner.set_property(prop, value)
        runner.assert_not_valid()


def _rows(count: int) -> list[dict[str, Any]]:
    data = b"\n".join(claim_records(count, seed=random.Random(3).randrange(10**6)))
    return [r.row for r in route_records_fused(data, ClaimSettings(), 1) if r.row is not None]


def test_failure_reason_and_log_never_quote_the_rows() -> None:
    pytest.importorskip("snowflake.snowpark")
    from snowflake.snowpark import Session

    from claimflow.snowflake.snowpark_merge import create_tables

    session = Session.builder.config("local_testing", True).create()
    create_tables(session)
    runner = _configured(local_testing=True, factory=lambda settings: session)
    good = _rows(3)
    unknown_column = {**good[0], CANARY: "x"}
    bad_date = {**good[1], "patientDOB": CANARY}
    bad_money = {**good[2], "totalCharge": CANARY}
    bad_event_id = {**good[0], "eventCreationUnixTime": CANARY}
    for rows in ([unknown_column], [bad_date], [bad_money], [bad_event_id], CANARY):
        runner.enqueue(CANARY.encode() if rows == CANARY else b"\n".join(json.dumps(r).encode() for r in rows))
    runner.run(5)
    runner.assert_all_transferred("failure", 5)
    for flowfile in runner.get_flowfiles_for("failure"):
        assert flowfile.attributes["cdc.error"]
    assert CANARY not in runner.all_attribute_text()
    assert CANARY not in runner.log_text()


def test_local_testing_is_refused_without_the_environment_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    # In-memory local testing would route real claims to success and lose them on stop: a flow parameter alone
    # must never turn it on in a production NiFi.
    from claimflow.snowflake.service import ALLOW_LOCAL_TESTING_VARIABLE, InvalidSettings, MergeSettings

    monkeypatch.delenv(ALLOW_LOCAL_TESTING_VARIABLE, raising=False)
    with pytest.raises(InvalidSettings, match=ALLOW_LOCAL_TESTING_VARIABLE):
        MergeSettings("", "", "", "", "", local_testing=True).validate()
    runner = _configured(local_testing=True)
    runner.assert_not_valid()
    monkeypatch.setenv(ALLOW_LOCAL_TESTING_VARIABLE, "1")
    MergeSettings("", "", "", "", "", local_testing=True).validate()
