"""DynamoDB attribute values ("DynamoDB JSON") decoded into plain, exact Python values.

Mapping (the change-event contract, see docs/change-events.md):

- ``S`` -> ``str``; ``N`` -> ``decimal.Decimal`` (exact, never float); ``B`` -> the base64 text, validated;
- ``SS`` / ``NS`` / ``BS`` -> ``list`` sorted by value (strings by code point, numbers numerically, binaries by
  their decoded bytes);
- ``BOOL`` -> ``bool``; ``NULL`` -> ``None``; ``M`` -> ``dict``; ``L`` -> ``list``.

Records that went through a NiFi JSON record reader come back with every type tag the reader's schema knows,
the absent ones as null (``{"S": null, "N": "5", "M": null}`` means ``N``), and map keys absent from one item
but present in another as null. Both are tolerated: the first by picking the one non-null tag, the second by
skipping the key.

Errors never carry attribute values (they may be PHI); at most a type tag and the name of a top-level attribute that
the caller's ``shown_name`` predicate says is a schema name (any other name is data too, and is given by its
position). This module knows no schema: ``claimflow.events`` passes the claim schema's predicate.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

# DynamoDB limits (Developer Guide, "Quotas" and "Data types").
MAX_NESTING_DEPTH = 32  # M / L containers on the path from a top-level attribute down to a value
MAX_ITEM_BYTES = 400 * 1024
MAX_NUMBER_DIGITS = 38
MAX_NUMBER_EXPONENT = 125  # largest magnitude 9.99...E+125
MIN_NUMBER_EXPONENT = -130  # smallest magnitude 1E-130

TYPE_TAGS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})

# Every character a DynamoDB number string may contain. str.strip(_NUMBER_CHARS) leaves text only when some other
# character is present; it keeps "NaN", "Infinity", "1_000" and " 5" (all accepted by Decimal()) out, without a
# regular expression per value.
_NUMBER_CHARS = "0123456789.-+eE"


# Validated numbers by their text. Decimal is immutable, so sharing is safe; claim data repeats many numbers
# (units, common charges), and a hit costs a fifth of parsing. Bounded: filled until full, never evicted.
_NUMBER_CACHE: dict[str, Decimal] = {}
_NUMBER_CACHE_SIZE = 8192


class AttributeValueError(ValueError):
    """An attribute value that is not valid DynamoDB JSON. The message never contains the value itself."""


def parse_number(value: object) -> Decimal:
    """Parse a DynamoDB ``N`` value exactly.

    Accepts the string form DynamoDB writes, and a JSON integer (exact) for records a NiFi writer re-typed.

    Raises:
        AttributeValueError: not a number, a JSON float (already inexact), outside DynamoDB's range
            (1E-130 .. 9.99...E+125 in magnitude) or more than 38 significant digits.
    """
    if value.__class__ is str:
        text: str = value
        cached = _NUMBER_CACHE.get(text)
        if cached is not None:
            return cached
        if not text or text.strip(_NUMBER_CHARS):
            raise AttributeValueError("N value is not a decimal number")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise AttributeValueError("N value is not a decimal number") from None
        long_text = len(text) > MAX_NUMBER_DIGITS
    elif value.__class__ is int:
        number = Decimal(value)
        long_text = True
    elif isinstance(value, float):
        raise AttributeValueError("N value arrived as a JSON float, so its exact value is already lost")
    else:
        raise AttributeValueError(f"N value must be a string, not {type(value).__name__}")
    if number:
        exponent = number.adjusted()
        if exponent > MAX_NUMBER_EXPONENT or exponent < MIN_NUMBER_EXPONENT:
            raise AttributeValueError("N value is outside DynamoDB's number range (1E-130 .. 9.99E+125)")
        # A string of at most 38 characters cannot hold more than 38 significant digits: skip the count.
        if long_text and _significant_digits(number) > MAX_NUMBER_DIGITS:
            raise AttributeValueError("N value has more than 38 significant digits")
    elif not MIN_NUMBER_EXPONENT <= number.as_tuple().exponent <= MAX_NUMBER_EXPONENT:  # type: ignore[operator]
        number = Decimal(0)  # a zero such as 0E+99999 is still zero; keep its text sane for every consumer
    if len(_NUMBER_CACHE) < _NUMBER_CACHE_SIZE and value.__class__ is str:
        _NUMBER_CACHE[value] = number
    return number


def _significant_digits(number: Decimal) -> int:
    digits = number.as_tuple().digits
    trailing_zeros = len(digits) - len(bytes(digits).rstrip(b"\x00"))
    return len(digits) - trailing_zeros


def check_base64(value: object, tag: str = "B") -> bytes:
    """Validate a base64 binary (``B`` or a ``BS`` member) and return its decoded bytes.

    Raises:
        AttributeValueError: not a string or not strict base64 (alphabet, padding).
    """
    if value.__class__ is not str:
        raise AttributeValueError(f"{tag} value must be a base64 string, not {type(value).__name__}")
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        raise AttributeValueError(f"{tag} value is not valid base64") from None


def _pick_tag(value: Mapping[str, Any]) -> tuple[str, Any]:
    """The one type tag of an attribute value that a NiFi reader padded with null tags."""
    found: tuple[str, Any] | None = None
    for tag, inner in value.items():
        if inner is None:
            continue
        if found is not None:
            raise AttributeValueError("attribute value has more than one type descriptor")
        found = (tag, inner)
    if found is None:
        raise AttributeValueError("attribute value has no type descriptor (or only null ones)")
    return found


def _tag_name(tag: object) -> str:
    # An unknown tag may be data (a name, a code): only a known tag in the wrong case, or one or two letters (too
    # short to identify anyone), is echoed.
    if isinstance(tag, str) and tag.isascii() and tag.isalpha() and (len(tag) <= 2 or tag.upper() in TYPE_TAGS):
        return repr(tag)
    return "(not shown)"


def decode_value(value: object, depth: int = 0) -> Any:
    """Decode one attribute value (``{"S": "x"}``, ``{"N": "5"}``, ...) into its Python form.

    ``depth`` is the number of ``M`` / ``L`` containers around this value (0 for a top-level attribute).

    Raises:
        AttributeValueError: unknown or missing type descriptor, a payload of the wrong JSON type, a bad number
            or base64 binary, an empty or duplicated set, or nesting deeper than 32 levels.
    """
    if value.__class__ is not dict:
        raise AttributeValueError(f"attribute value must be an object, not {_type_name(value)}")
    if len(value) == 1:
        ((tag, inner),) = value.items()
    else:
        tag, inner = _pick_tag(value)
    # Ordered by how often each type occurs in claim records.
    if tag == "S":
        if inner.__class__ is str:
            return inner
        raise AttributeValueError(f"S value must be a string, not {_type_name(inner)}")
    if tag == "N":
        return parse_number(inner)
    if tag == "M":
        if inner.__class__ is not dict:
            raise AttributeValueError(f"M value must be an object, not {_type_name(inner)}")
        return _decode_map(inner, _members_depth(depth))
    if tag == "L":
        if inner.__class__ is not list:
            raise AttributeValueError(f"L value must be an array, not {_type_name(inner)}")
        return _decode_list(inner, _members_depth(depth))
    if tag == "BOOL":
        if inner is True or inner is False:
            return inner
        raise AttributeValueError(f"BOOL value must be true or false, not {_type_name(inner)}")
    if tag == "NULL":
        if inner is True:
            return None
        raise AttributeValueError("NULL value must be true")
    if tag == "B":
        check_base64(inner)
        return inner
    if tag == "SS":
        members = _set_members(inner, tag)
        for member in members:
            if member.__class__ is not str:
                raise AttributeValueError(f"SS member must be a string, not {_type_name(member)}")
        _check_unique(members, members, tag)
        return sorted(members)
    if tag == "NS":
        numbers = [parse_number(member) for member in _set_members(inner, tag)]
        _check_unique(numbers, numbers, tag)
        return sorted(numbers)
    if tag == "BS":
        members = _set_members(inner, tag)
        decoded = [check_base64(member, tag) for member in members]
        _check_unique(members, decoded, tag)
        return [text for _, text in sorted(zip(decoded, members, strict=True))]
    raise AttributeValueError(f"unknown type descriptor {_tag_name(tag)}")


def _members_depth(depth: int) -> int:
    """The depth of the members of an M or L container at ``depth``: the one place the nesting limit is enforced
    (the walkers below descend inline only while under it and leave the rest to ``decode_value``)."""
    if depth >= MAX_NESTING_DEPTH:
        raise AttributeValueError(f"attribute nests deeper than {MAX_NESTING_DEPTH} levels")
    return depth + 1


# The two container walkers below handle the common one-tag S / N values inline: a function call per value
# would double the cost of decoding a claim (this is the hot path of every benchmark).


def _decode_map(attributes: dict[str, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        if value.__class__ is dict and len(value) == 1:
            text = value.get("S")
            if text.__class__ is str:
                out[name] = text
                continue
            number = value.get("N")
            if number is not None:
                out[name] = (number.__class__ is str and _NUMBER_CACHE.get(number)) or parse_number(number)
                continue
            inner = value.get("M")
            if inner.__class__ is dict and depth < MAX_NESTING_DEPTH:
                out[name] = _decode_map(inner, depth + 1)
                continue
            inner = value.get("L")
            if inner.__class__ is list and depth < MAX_NESTING_DEPTH:
                out[name] = _decode_list(inner, depth + 1)
                continue
        elif value is None:  # a key that a NiFi reader's merged schema added to this item
            continue
        out[name] = decode_value(value, depth)
    return out


def _decode_list(values: list[Any], depth: int) -> list[Any]:
    out: list[Any] = []
    append = out.append
    for value in values:
        if value.__class__ is dict and len(value) == 1:
            text = value.get("S")
            if text.__class__ is str:
                append(text)
                continue
            number = value.get("N")
            if number is not None:
                append((number.__class__ is str and _NUMBER_CACHE.get(number)) or parse_number(number))
                continue
            inner = value.get("M")
            if inner.__class__ is dict and depth < MAX_NESTING_DEPTH:
                append(_decode_map(inner, depth + 1))
                continue
        append(decode_value(value, depth))
    return out


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _set_members(inner: object, tag: str) -> list[Any]:
    if inner.__class__ is not list:
        raise AttributeValueError(f"{tag} value must be an array, not {type(inner).__name__}")
    if not inner:
        raise AttributeValueError(f"{tag} value is an empty set (DynamoDB sets are never empty)")
    return inner


def _check_unique(members: list[Any], keys: list[Any], tag: str) -> None:
    if len(set(keys)) != len(members):
        raise AttributeValueError(f"{tag} value has duplicate members (DynamoDB sets are unique)")


def show_no_name(name: str) -> bool:
    """The default ``shown_name`` of :func:`decode_image`: no attribute name is known to be a schema name."""
    return False


def decode_image(
    image: object, shown_name: Callable[[str], bool] = show_no_name, schema: str = "item"
) -> dict[str, Any]:
    """Decode an item image or key map (``{"name": {"S": "x"}, ...}``) into ``{"name": "x", ...}``.

    Keys whose value is null (a NiFi reader's way of saying "absent in this record") are left out.

    ``shown_name`` says which top-level attribute names an error may show (names of the caller's schema, such as
    the claim schema's; by default none); ``schema`` names that schema in the message for the others.

    Raises:
        AttributeValueError: the image is not an object, or an attribute is invalid; the message names the
            top-level attribute (by name when ``shown_name`` accepts it, else by position; never its value).
    """
    if image.__class__ is not dict:
        raise AttributeValueError(f"image must be an object, not {_type_name(image)}")
    try:
        return _decode_map(image, 0)
    except (AttributeValueError, RecursionError):
        pass
    # Error path only: decode attribute by attribute to name the one that fails.
    for position, (name, value) in enumerate(image.items()):
        if value is None:
            continue
        try:
            decode_value(value)
        except AttributeValueError as error:
            where = _attribute_name(name, position, shown_name, schema)
            raise AttributeValueError(f"attribute {where}: {error}") from None
        except RecursionError:
            where = _attribute_name(name, position, shown_name, schema)
            raise AttributeValueError(f"attribute {where}: nesting too deep") from None
    raise AttributeValueError("image could not be decoded")  # unreachable unless decoding is not deterministic


def _attribute_name(name: object, position: int, shown_name: Callable[[str], bool], schema: str) -> str:
    """How an error names a top-level attribute: by name when ``shown_name`` accepts it, else by position.

    A name outside the schema is data as far as the decoder knows (a buggy or hostile writer can put a member id or
    a patient name in an attribute name), so it is never echoed; the position finds it in the dead-letter content.
    """
    if isinstance(name, str) and shown_name(name):
        return repr(name)
    return f"#{position} (name not in the {schema} schema, not shown)"


def item_size(image: Mapping[str, Any]) -> int:
    """Approximate DynamoDB item size in bytes of a raw (still typed) image, by DynamoDB's sizing rules.

    Strings and names count their UTF-8 bytes, binaries their decoded bytes, numbers about one byte per two
    significant digits plus one, BOOL / NULL one byte, and each M / L three bytes plus one per element.
    Malformed values count by their JSON-ish length; validation reports them separately.
    """
    return sum(len(str(name).encode()) + _value_size(value) for name, value in image.items() if value is not None)


def _value_size(value: Any) -> int:
    if not isinstance(value, dict) or not value:
        return 1
    tag, inner = next(((t, v) for t, v in value.items() if v is not None), ("NULL", True))
    if tag == "S" and isinstance(inner, str):
        return len(inner.encode())
    if tag == "N" and isinstance(inner, str | int):
        return len(str(inner)) // 2 + 1
    if tag == "B" and isinstance(inner, str):
        return len(inner) * 3 // 4
    if tag in ("SS", "NS", "BS") and isinstance(inner, list):
        return sum(_value_size({tag[0]: member}) for member in inner)
    if tag == "M" and isinstance(inner, dict):
        return 3 + sum(len(str(k).encode()) + 1 + _value_size(v) for k, v in inner.items() if v is not None)
    if tag == "L" and isinstance(inner, list):
        return 3 + sum(1 + _value_size(v) for v in inner)
    return 1
