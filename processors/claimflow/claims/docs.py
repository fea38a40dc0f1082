"""Generated sections of docs/claim-rows.md: the columns, the field mapping and the status mapping.

``python -m claimflow.claims.docs`` prints them; a test checks that the document contains each one verbatim, so the
document cannot drift from rows.COLUMNS, the mapping table or the status table.
"""

from __future__ import annotations

from collections import defaultdict

from claimflow.claims.mapping import FLAT_PREFIXES, GROUPS, IGNORED, MAPPING_TABLES, PROCEDURE_KEYS
from claimflow.claims.status import STATUSES
from claimflow.rows import COLUMNS


def render_columns() -> str:
    lines = [
        "| # | Column | Kind | Snowflake type | PHI class | Nullable | Description |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, column in enumerate(COLUMNS, 1):
        lines.append(
            f"| {number} | `{column.name}` | {column.kind.value} | {column.snowflake_type} | {column.phi.value} | "
            f"{'yes' if column.nullable else 'no'} | {column.description} |"
        )
    return "\n".join(lines)


def _keys(keys: list[str]) -> str:
    return ", ".join(f"`{key}`" for key in keys)


def render_aliases() -> str:
    parts = []
    for group, table in GROUPS.items():
        targets: dict[str, list[str]] = defaultdict(list)
        for key, target in table.items():
            targets[target].append(key)
        where = (
            "top level of the item"
            if group == "claim"
            else f"nested object; flat prefixes {_keys(list(FLAT_PREFIXES[group]))}"
        )
        parts.append(f"**{group}** ({where})\n\n| Target | Accepted keys (normalised) |\n|---|---|")
        for target, keys in targets.items():
            if target == IGNORED:
                shown = "known, ignored (the DynamoDB TTL attribute; never flagged as unknown)"
            else:
                shown = f"nested object `{target[1:]}`" if target.startswith("@") else f"`{target}`"
            parts[-1] += f"\n| {shown} | {_keys(keys)} |"
    fields: dict[str, list[str]] = defaultdict(list)
    for key, field in PROCEDURE_KEYS.items():
        fields[field].append(key)
    parts.append(
        "**procedure line** (each element of the procedures list)\n\n| Field | Accepted keys (normalised) |\n|---|---|"
    )
    for field, keys in fields.items():
        parts[-1] += f"\n| `{field}` | {_keys(keys)} |"
    derived = sorted(key for key in MAPPING_TABLES["claim"] if key not in GROUPS["claim"])
    parts.append(f"Flat top-level keys derived from the nested groups ({len(derived)}): {_keys(derived)}.")
    return "\n\n".join(parts)


def render_statuses() -> str:
    lines = ["| Canonical status | X12 277 category | Accepted phrasings (after normalisation) |", "|---|---|---|"]
    for canonical, (category, phrases) in STATUSES.items():
        lines.append(f"| `{canonical}` | {category} | {_keys(list(phrases))} |")
    return "\n".join(lines)


SECTIONS = {"columns": render_columns, "aliases": render_aliases, "statuses": render_statuses}


if __name__ == "__main__":
    for name, render in SECTIONS.items():
        print(f"<!-- generated: {name} -->\n{render()}\n<!-- end generated: {name} -->\n")
