"""Named-frame precision and recall on hamilton_360p, from per-face records.

Ground truth (../shared/README.md): frames 0-19 wide stage view, 20-81 profile
close-up of Lin-Manuel Miranda, 82-210 his frontal medium shot, 211-274 the
audience with Barack (enrolled as ``obama``) and Michelle Obama.

- recall: the share of the 129 frames 82-210 in which some face is named
  lin_manuel_miranda;
- precision: over every (frame, name) pair a system outputs (a frame counts
  once per distinct name), the share that is allowed: lin_manuel_miranda in
  frames 0-210 (he is on screen, small or in profile, in all of them) and obama
  in frames 211-274. Any other name, or either name outside its range, is a
  false positive. A system that names nobody has precision 1.0 by convention
  (and recall 0).
"""

from __future__ import annotations

from collections import defaultdict

LIN = "lin_manuel_miranda"
POSITIVE = range(82, 211)
ALLOWED = {LIN: range(0, 211), "obama": range(211, 275)}


def named_frames(records: list[dict]) -> dict[int, set[str]]:
    """frame -> names given to any face in it (lifecycle events and unnamed faces ignored)."""
    names: dict[int, set[str]] = defaultdict(set)
    for r in records:
        if "event" not in r and r.get("name"):
            names[int(r["frame"])].add(r["name"])
    return names


def precision_recall(records: list[dict]) -> dict[str, float]:
    names = named_frames(records)
    pairs = [(f, n) for f, ns in names.items() for n in ns]
    good = sum(1 for f, n in pairs if n in ALLOWED and f in ALLOWED[n])
    hits = sum(1 for f in POSITIVE if LIN in names.get(f, ()))
    return {
        "precision": round(good / len(pairs), 4) if pairs else 1.0,
        "recall": round(hits / len(POSITIVE), 4),
        "named_pairs": len(pairs),
        "false_pairs": len(pairs) - good,
    }
