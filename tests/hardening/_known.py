"""Issue 11's defects not fixed yet, each a (case, entry point) pair run as a strict xfail: the case still runs,
an unexpected pass fails the suite (so the entry is removed when the defect is), and the reason names the class
of issue 11 and the code at fault. Nothing here is skipped."""

from __future__ import annotations

# ProcessClaimChange is a RecordTransform: NiFi's JSON reader parses the FlowFile before ClaimFlow sees a record,
# so a line that is not a JSON object, nesting past the reader's depth, or an attribute beyond its string limit
# fails the whole FlowFile there (the offline runtime models the reader; real NiFi's Jackson reader does the same).
# Issue 14 replaces it with a FlowFileTransform that frames the content as the decoder does.
_RECORD_READER = "issue 11 class 8 / issue 14: ProcessClaimChange's record reader decides before ClaimFlow does"
KNOWN_DEFECTS: dict[tuple[str, str], str] = {
    **{
        (case, "ProcessClaimChange"): _RECORD_READER
        for case in (
            "deep-nesting-990-levels",
            "deep-nesting-5000-levels",
            "vtab-only-line",
            "nul-only-line",
            "formfeed-only-line",
            "invalid-utf8-line",
            "malformed-json-with-phi",
            "top-level-number",
            "top-level-string-phi",
            "attribute-5mb-small-sizebytes",
            "sequence-attribute-65-digits",
        )
    },
}

# JSON nesting beyond which ProcessClaimChange's reader fails (see deep-nesting-* above): the generated property
# leaves ProcessClaimChange out for such records, as the register lists it.
READER_MAX_NESTING = 200


def nesting(data: bytes) -> int:
    """The deepest JSON nesting in ``data`` (brackets outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x7D, 0x5D):
            depth -= 1
    return deepest
