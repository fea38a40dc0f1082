"""Code-set checks for claims: ICD-10-CM diagnoses, NPI, CPT/HCPCS procedure codes, modifiers.

ICD-10-CM existence, billability, descriptions and chapters come from ``simple-icd-10-cm`` (the CMS code set,
shipped in its wheel, offline). It is imported on first use: loading the code set takes about a second, which a
command that never validates a claim should not pay. Look-ups are cached because real claim streams repeat a
small set of codes.
"""

from __future__ import annotations

import re
import warnings
from types import ModuleType
from typing import NamedTuple

from claimflow.caching import bounded_cache

ICD10CM_PATTERN = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_ICD10CM_DOTLESS = re.compile(r"^[A-Z][0-9A-Z][0-9A-Z][0-9A-Z]{1,4}$")
PROCEDURE_CODE_PATTERN = re.compile(r"^(?:\d{4}[0-9FT]|[A-Z]\d{4})$")  # CPT I/II/III, HCPCS Level II
MODIFIER_PATTERN = re.compile(r"^[0-9A-Z]{2}$")

_icd: ModuleType | None = None


def _icd_module() -> ModuleType:
    global _icd
    if _icd is None:
        with warnings.catch_warnings():  # the package reads its data with importlib.resources' legacy API
            warnings.simplefilter("ignore", DeprecationWarning)
            import simple_icd_10_cm
        _icd = simple_icd_10_cm
    return _icd


class Diagnosis(NamedTuple):
    code: str  # dotted form, e.g. "E11.9"
    billable: bool  # a leaf of the code set (a code a claim may carry)
    description: str
    chapter: str  # chapter description, e.g. "Endocrine, nutritional and metabolic diseases (E00-E89)"


class CodeError(ValueError):
    """A code failed a format or code-set check; the message names the rule, never the value."""


@bounded_cache(8192)
def lookup_diagnosis(raw: str) -> Diagnosis:
    """Normalise an ICD-10-CM code (trim, upper-case, add the dot) and look it up in the code set.

    Raises:
        CodeError: the code is not in ICD-10-CM format, or not in the code set.
    """
    code = raw.strip().upper()
    if "." not in code and _ICD10CM_DOTLESS.match(code):
        code = f"{code[:3]}.{code[3:]}"
    if not ICD10CM_PATTERN.match(code):
        raise CodeError("not in ICD-10-CM format")
    icd = _icd_module()
    if not icd.is_valid_item(code) or icd.is_chapter_or_block(code):
        raise CodeError("not an ICD-10-CM code")
    chapter = icd.get_ancestors(code)[-1]
    return Diagnosis(code, bool(icd.is_leaf(code)), icd.get_description(code), icd.get_description(chapter))


# Luhn doubling of one digit (2d, minus 9 when that exceeds 9), as a character translation.
_DOUBLED_DIGIT = str.maketrans("0123456789", "0246813579")
_ZEROS_IN_NINE_DIGITS = 9 * ord("0")


def npi_is_valid(npi: str) -> bool:
    """True when ``npi`` is 10 ASCII digits starting with 1 or 2 and its check digit is right (see
    :func:`npi_check_digit`)."""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit() or npi[0] not in "12":
        return False
    return _check_digit(npi) == ord(npi[9]) - 48


def npi_check_digit(first_nine: str) -> str:
    """The check digit that completes 9 ASCII digits into an NPI (CMS's example: ``123456789`` -> ``3``).

    The check digit is the Luhn check over the 9 leading digits prefixed with the card-issuer prefix 80840,
    which is the same as adding the constant 24 to the Luhn sum of the 9 digits. Counting from the right of the
    9 digits, the 1st, 3rd, ... (positions 0, 2, 4, 6, 8 from the left) are doubled.

    Raises:
        ValueError: ``first_nine`` is not 9 ASCII digits.
    """
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError("an NPI's check digit completes 9 ASCII digits")
    return chr(48 + _check_digit(first_nine))


def _check_digit(digits: str) -> int:
    """The NPI check digit of ``digits[:9]`` (ASCII digits, not checked here)."""
    doubled = digits[0:9:2].translate(_DOUBLED_DIGIT) + digits[1:9:2]
    total = 24 + sum(doubled.encode()) - _ZEROS_IN_NINE_DIGITS  # the bytes of ASCII digits sum to the digits + 48 each
    return (10 - total % 10) % 10


def procedure_code_is_valid(code: str) -> bool:
    return PROCEDURE_CODE_PATTERN.match(code) is not None


def modifier_is_valid(modifier: str) -> bool:
    return MODIFIER_PATTERN.match(modifier) is not None
