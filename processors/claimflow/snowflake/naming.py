"""Names of the Snowflake objects ClaimFlow creates, checked as plain unquoted identifiers (no injection).

``Names`` is every name the scripts under ``sql/`` use; ``DEFAULT_NAMES`` the shipped ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from claimflow.snowflake.spec import TableNames

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")


class InvalidIdentifier(ValueError):
    """A database object name that is not a plain unquoted Snowflake identifier."""


def check_identifier(name: str, what: str = "identifier") -> str:
    """Return ``name`` if it is a plain unquoted identifier; raise InvalidIdentifier otherwise (no injection)."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise InvalidIdentifier(f"{what} must match {IDENTIFIER.pattern}")
    return name


@dataclass(frozen=True)
class Names:
    """Every object name the scripts use, and how they meet an account that already has some of them.

    ``existing_database_owner``: the database already exists (e.g. the quickstart's ``CDC_DB``) and is owned by
    that role; the scripts then never create it nor take its ownership, and the grants on it are issued by that
    role. ``quickstart_views``: also create views named like the quickstart's ``openflow_insclaim_*`` tables.
    """

    database: str = "CLAIMFLOW_DB"
    schema: str = "CDC"
    warehouse: str = "CLAIMFLOW_WH"
    tables: TableNames = field(default_factory=TableNames)
    stream: str = "CLAIMS_STAGING_STREAM"
    task: str = "CLAIMS_MERGE_TASK"
    payer_access_map: str = "PAYER_ACCESS_MAP"
    admin_role: str = "CLAIMFLOW_ADMIN"
    loader_role: str = "CLAIMFLOW_LOADER"
    merger_role: str = "CLAIMFLOW_MERGER"
    analyst_role: str = "CLAIMFLOW_ANALYST"
    phi_reader_role: str = "CLAIMFLOW_PHI_READER"
    governor_role: str = "CLAIMFLOW_GOVERNOR"
    monitor_role: str = "CLAIMFLOW_MONITOR"
    governance_schema: str = "GOVERNANCE"
    service_user: str = "CLAIMFLOW_SVC"
    phi_tag: str = "PHI_CLASS"
    notification_integration: str = "CLAIMFLOW_ALERTS"
    existing_database_owner: str | None = None
    quickstart_views: bool = False

    def __post_init__(self) -> None:
        for key, value in vars(self).items():
            if isinstance(value, TableNames):
                for table_key, table in vars(value).items():
                    check_identifier(table, table_key)
            elif isinstance(value, str):
                check_identifier(value, key)

    @property
    def gov(self) -> str:
        """The schema that holds the policies, tags and the payer map (owned by the governor role)."""
        return f"{self.database}.{self.governance_schema}"

    def context(self, role: str) -> str:
        """The USE statements a script section starts with: as ``role``, on the warehouse, in the schema."""
        return f"USE ROLE {role};\nUSE WAREHOUSE {self.warehouse};\nUSE SCHEMA {self.database}.{self.schema};\n"


DEFAULT_NAMES = Names()
