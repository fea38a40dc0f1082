"""Issue 11's defects not fixed yet, each a (case, entry point) pair run as a strict xfail: the case still runs,
an unexpected pass fails the suite (so the entry is removed when the defect is), and the reason names the class
of issue 11 and the code at fault. Nothing here is skipped."""

from __future__ import annotations

# Empty: every defect the register listed is fixed (ProcessClaimChange's record-reader cases went with its switch
# to a FlowFileTransform that frames the content as the decoder does). Add (case, entry point) -> reason here.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}
