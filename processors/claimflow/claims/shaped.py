"""The claim-shaped fast path: a clean DynamoDB image -> its validated claim, read in one walk.

The general path decodes every attribute of the image into Python values (``claimflow.dynamodb``), maps them onto
columns (``claims.mapping``) and validates the mapped values (``claims.validate``). This module is a *compilation*
of those same rules for the common case, not a second copy of them: each layout of a group (its DynamoDB attribute
names in writer order, any spelling the mapping table accepts) gets a generated function that, attribute by
attribute, unwraps the type tag and hands the payload to the column's own rule from ``claims.validate`` (cached by
raw text where claim streams repeat values). What it returns is exactly what ``validate.validate_mapped`` returns
for that image - a :class:`~claimflow.claims.validate.ValidatedClaim` - and the rest of the row (quality flags,
enrichment, PHI, CDC columns) is built by the one row builder (``claims.build``) for both paths.

It reads NiFi's padded records as the decoder does: a null attribute (a key only another record of the FlowFile
has) is absent, and a value padded with null sibling tags (``{"M": {...}, "NULL": null}``) is its one non-null tag.

Anything outside the clean common case raises :class:`Unusual` - the only signal by which a caller may leave this
path - and the general path then produces the outcome, including every rejection and the unknown-field and
conflict findings, which need the general mapping: an unknown attribute, a column given twice, an odd type tag, a
broken rule, more than 256 layouts of one group. Any other exception is a bug and propagates.
"""

from __future__ import annotations

from typing import Any

from claimflow.caching import bounded_cache
from claimflow.claims.codes import Diagnosis
from claimflow.claims.errors import InvalidClaim
from claimflow.claims.mapping import IGNORED, MAPPING_TABLES, PROCEDURE_KEYS, PROCEDURES, normalise_key
from claimflow.claims.validate import (
    CHECKED_TEXT_COLUMNS,
    COLUMN_WIDTHS,
    MAX_PROCEDURES,
    PARSED_CACHED,
    TEXT_COLUMNS,
    ValidatedClaim,
    cached_money,
    cached_npi,
    cached_procedure_line,
    diagnosis_codes,
    quality_flags,
)
from claimflow.dynamodb import AttributeValueError, decode_value, parse_number

__all__ = ["Unusual", "claim_values"]


class Unusual(Exception):
    """The image is outside the clean common case: the general path handles it."""


# Handler kinds.
_TEXT, _CHECKED, _PARSED, _GROUP, _MONEY, _NPI, _DIAGNOSES, _LINES, _IGNORED, _UNKNOWN = range(10)

_COLUMN_HANDLERS: dict[str, tuple[int, Any]] = {
    "claimId": (_TEXT, COLUMN_WIDTHS["claimId"]),
    **{name: (_TEXT, COLUMN_WIDTHS[name]) for name in TEXT_COLUMNS},
    # Plausibility checks on values that rarely repeat (phones, e-mails): checked directly, not cached.
    **{name: (_CHECKED, (COLUMN_WIDTHS[name], check, flag)) for name, (check, flag) in CHECKED_TEXT_COLUMNS.items()},
    # Dates, the created timestamp, gender, ZIPs, states: validate's cached parse of the raw text.
    **{name: (_PARSED, (cached, flag)) for name, cached, _, flag in PARSED_CACHED if name not in CHECKED_TEXT_COLUMNS},
    "totalCharge": (_MONEY, None),
    "providerNPI": (_NPI, 10),
    "diagnosisCodes": (_DIAGNOSES, None),
    PROCEDURES: (_LINES, None),
}


def _handler(group: str, key: str) -> tuple[int, str, Any]:
    """(kind, column or group target, argument) of a raw attribute name in a mapping group."""
    target = MAPPING_TABLES[group].get(normalise_key(key))
    if target is None:
        return (_UNKNOWN, "", None)
    if target == IGNORED:
        return (_IGNORED, target, None)
    if target[0] == "@":
        return (_GROUP, target, target[1:])
    kind, argument = _COLUMN_HANDLERS[target]
    return (kind, target, argument)


def _unpadded(av: Any) -> dict[str, Any]:
    """A value with NiFi's null sibling tags removed: a dict with its one non-null tag.

    Raises:
        Unusual: not an object, or not exactly one non-null tag (the decoder words the rejection, if any).
    """
    if av.__class__ is not dict:
        raise Unusual
    tags = [(tag, inner) for tag, inner in av.items() if inner is not None]
    if len(tags) != 1:
        raise Unusual
    return dict(tags)


def _validated_attribute(av: Any) -> None:
    """A known attribute outside the row (the TTL): checked as the decoder checks any attribute, then dropped."""
    try:
        decode_value(av, 0)
    except AttributeValueError:
        raise Unusual from None


@bounded_cache(16384)  # by raw text: amounts repeat across claims
def _money(text: str) -> Any:
    try:
        return cached_money(parse_number(text))
    except ValueError:  # the decoder's or the money rule's rejection (AttributeValueError is a ValueError)
        raise Unusual from None


def _payload(av: Any, tag: str, cls: type) -> Any:
    """The payload of a one-tag value (NiFi padding allowed) when its tag is ``tag`` and its class ``cls``.

    Raises:
        Unusual: any other value.
    """
    if av.__class__ is not dict or len(av) != 1:
        av = _unpadded(av)
    payload = av.get(tag)
    if payload.__class__ is not cls:
        raise Unusual
    return payload


def _strings(av: Any) -> list[str]:
    """An L of S values -> the strings."""
    return [_payload(element, "S", str) for element in _payload(av, "L", list)]


def _diagnoses(av: Any) -> list[Diagnosis]:
    try:
        return diagnosis_codes(_strings(av))
    except InvalidClaim:
        raise Unusual from None


# --- the walk: one generated function per group layout -------------------------------------------------------
#
# A claim stream has few layouts (the writer's attribute names, in its order), and each group of a layout is read
# the same way every time. So each (group, attribute names in order) gets a plain function with one block per
# attribute: no name look-up, no dispatch on the kind, no loop. The source is built from the blocks below; the
# attribute names (data) never enter it: they are passed in as constants (K0, K1, ...), like every other value.
# Every block starts at "av = ...": a null attribute is NiFi's padding for a key this item does not have.

def _tagged(tag: str, var: str, cls: str, container: str = "image") -> str:
    """Block start: attribute K{i}, when not null, is a one-tag value whose payload (in ``var``) has class ``cls``.
    The subscript's own failure (no such tag, or not a map) is the only exception taken as "unusual" here; a
    padded or odd value goes through ``payload``, which unpads it or raises Unusual."""
    return (f"    av = {container}[K{{i}}]\n    if av is not None:\n"
            f"        try:\n            {var} = av[{tag!r}]\n        except (KeyError, TypeError):\n"
            f"            {var} = payload(av, {tag!r}, {cls})\n"
            f"        else:\n            if len(av) != 1 or {var}.__class__ is not {cls}:\n"
            f"                {var} = payload(av, {tag!r}, {cls})\n")


def _indent(block: str) -> str:
    return "".join("    " + line + "\n" for line in block.splitlines())


_S, _N, _M = _tagged("S", "text", "str"), _tagged("N", "text", "str"), _tagged("M", "inner", "dict")
# A clean text payload: non-empty, within the column's width, needing no trimming (values.text's common case;
# anything else is values.text's to judge, on the general path).
_CLEAN = "    if not text or len(text) > A{i} or text.strip() is not text:\n        raise Unusual\n"
_ABSENT = "    else:\n        written -= 1\n"
_BLOCKS: dict[int, str] = {
    _TEXT: _S + _indent(_CLEAN + "    fields[C{i}] = text") + _ABSENT,
    _NPI: _S + _indent(_CLEAN + "    if not npi_is_valid(text):\n        raise Unusual\n    fields[C{i}] = text")
    + _ABSENT,
    _CHECKED: _S + _indent(_CLEAN + "    fields[C{i}] = text\n    if not P{i}(text):\n        flags.append(F{i})")
    + _ABSENT,
    # A rule's ValueError is its rejection of the value: the general path reports it.
    _PARSED: _S + _indent("    try:\n        fields[C{i}], ok = P{i}(text)\n    except ValueError:\n"
                          "        raise Unusual from None\n    if not ok:\n        flags.append(F{i})") + _ABSENT,
    _MONEY: _N + _indent("    fields[C{i}] = parse_money(text)") + _ABSENT,
    _GROUP: _M + _indent("    written += (W{i}.get(tuple(inner)) or compile_walker(A{i}, tuple(inner)))"
                         "(inner, fields, flags) - 1") + _ABSENT,
    _DIAGNOSES: "    av = image[K{i}]\n    if av is not None:\n        fields[C{i}] = parse_diagnoses(av)\n" + _ABSENT,
    _LINES: "    av = image[K{i}]\n    if av is not None:\n        fields[C{i}] = parse_lines(av)\n" + _ABSENT,
    # Known, outside the row (the TTL): validated as the decoder would, never counted as written.
    _IGNORED: "    av = image[K{i}]\n    if av is not None:\n        validate_attribute(av)\n    written -= 1\n",
    # Unknown: the general path counts it as a finding. As null padding it is just absent.
    _UNKNOWN: "    if image[K{i}] is not None:\n        raise Unusual\n    written -= 1\n",
}
_LAYOUTS_PER_GROUP = 256
_WALKERS: dict[str, dict[tuple[str, ...], Any]] = {group: {} for group in MAPPING_TABLES}


def _compile(group: str, layout: tuple[str, ...]) -> Any:
    """The walker of one group layout: fn(image, fields, flags) -> columns written (nested groups included).

    Raises:
        Unusual: too many layouts already (the general path handles the rest).
    """
    walkers = _WALKERS[group]
    if len(walkers) >= _LAYOUTS_PER_GROUP:
        raise Unusual  # checked before compiling: a stream of ever-new layouts must not cost a compile per record
    namespace: dict[str, Any] = {
        "Unusual": Unusual, "payload": _payload, "npi_is_valid": cached_npi, "parse_money": _money,
        "parse_diagnoses": _diagnoses, "parse_lines": _lines, "compile_walker": _compile,
        "validate_attribute": _validated_attribute,
    }
    body = [f"    written = {len(layout)}\n"]
    for i, key in enumerate(layout):
        kind, target, argument = _handler(group, key)
        namespace[f"K{i}"], namespace[f"C{i}"] = key, target
        if kind in (_TEXT, _NPI):
            namespace[f"A{i}"] = argument
        elif kind == _GROUP:
            namespace[f"A{i}"], namespace[f"W{i}"] = argument, _WALKERS[argument]
        elif kind == _CHECKED:
            namespace[f"A{i}"], namespace[f"P{i}"], namespace[f"F{i}"] = argument
        elif kind == _PARSED:
            namespace[f"P{i}"], namespace[f"F{i}"] = argument
        body.append(_BLOCKS[kind].format(i=i))
    source = "def walker(image, fields, flags):\n" + "".join(body) + "    return written\n"
    exec(compile(source, f"<claimflow.claims.shaped walker: {group}>", "exec"), namespace)
    walker = namespace["walker"]
    walkers[layout] = walker
    return walker


_LINE_READERS: dict[tuple[str, ...], Any] = {}
_LINE_ARGUMENTS = ("code", "description", "modifiers", "units", "charge")


def _compile_line(layout: tuple[str, ...]) -> Any:
    """The reader of one procedure-line layout: fn(attributes) -> the arguments of validate's line rule, exactly as
    validate.procedure_lines passes them for the decoded line (absent fields None, modifiers a tuple).

    Raises:
        Unusual: an unknown or repeated field, or too many layouts already.
    """
    names = [PROCEDURE_KEYS.get(normalise_key(key)) for key in layout]
    if None in names or len(set(names)) != len(names) or len(_LINE_READERS) >= _LAYOUTS_PER_GROUP:
        raise Unusual  # the general path maps these (first of a repeated field wins there)
    namespace: dict[str, Any] = {"Unusual": Unusual, "payload": _payload, "strings": _strings}
    body = []
    for i, (key, name) in enumerate(zip(layout, names, strict=True)):
        namespace[f"K{i}"] = key
        if name == "modifiers":
            body.append(f"    av = attributes[K{i}]\n    modifiers = None if av is None else tuple(strings(av))\n")
            continue
        tag = "N" if name in ("units", "charge") else "S"
        body.append(_tagged(tag, "raw", "str", "attributes").format(i=i)
                    + f"        {name} = raw\n    else:\n        {name} = None\n")
    arguments = ", ".join(name if name in names else "None" for name in _LINE_ARGUMENTS)
    source = "def reader(attributes):\n" + "".join(body) + f"    return ({arguments},)\n"
    exec(compile(source, "<claimflow.claims.shaped procedure line reader>", "exec"), namespace)
    reader = namespace["reader"]
    _LINE_READERS[layout] = reader
    return reader


@bounded_cache(16384)  # by raw texts: procedure lines repeat across claims
def _line(code: str | None, description: str | None, modifiers: tuple[str, ...] | None, units: str | None,
          charge: str | None) -> dict[str, Any]:
    """validate's line rule for a line's raw DynamoDB texts (N values read by the decoder's parse_number).

    Raises:
        InvalidClaim, AttributeValueError: the rule's or the decoder's rejection.
    """
    return cached_procedure_line(code, description, modifiers, None if units is None else parse_number(units),
                                 None if charge is None else parse_number(charge))


def _lines(av: Any) -> list[dict[str, Any]]:
    items = _payload(av, "L", list)
    if len(items) > MAX_PROCEDURES:
        raise Unusual
    result = []
    try:
        for element in items:
            attributes = _payload(element, "M", dict)
            layout = tuple(attributes)
            result.append(_line(*(_LINE_READERS.get(layout) or _compile_line(layout))(attributes)))
    except (InvalidClaim, AttributeValueError):  # a line rule's or the decoder's rejection of a line value
        raise Unusual from None
    return result


def claim_values(image: dict[str, Any], key: str, template: dict[str, Any]) -> ValidatedClaim:
    """The validated claim of a clean image: ``validate.validate_mapped`` of the decoded, mapped image, with the
    values written into a copy of ``template`` (every row column, in order). ``key`` is the event's claim key.

    Raises:
        Unusual: anything outside the clean common case (see the module's docstring).
    """
    fields: dict[str, Any] = {}
    flags: list[str] = []
    layout = tuple(image)
    if (_WALKERS["claim"].get(layout) or _compile("claim", layout))(image, fields, flags) != len(fields):
        raise Unusual  # a column given twice: the general path reports the conflict
    claim_id = fields.get("claimId")
    if claim_id is None:
        fields["claimId"] = key
    elif claim_id != key:
        raise Unusual  # the general path rejects it
    diagnoses: list[Diagnosis] = fields.get("diagnosisCodes") or []
    fields["diagnosisCodes"] = [d.code for d in diagnoses]
    if PROCEDURES not in fields:
        fields[PROCEDURES] = []
    values = template.copy()
    values.update(fields)
    flags.extend(quality_flags(values, diagnoses))
    return ValidatedClaim(values, diagnoses, flags)
