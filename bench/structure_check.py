"""bench/structure_check.py: the structural check (fhir.resources R4B `model_validate`)
against the lean check (profiles/lean_structure.py, tables compiled from the same models,
no pydantic objects built), on the profile examples: time per resource, and agreement of
their verdicts on the valid examples, the invalid fixtures and seeded random edits
(tests/support/structure_edits.py: wrong types and near-miss formats, unknown and dropped
elements, arrays, second choice types, `_x` siblings, nested resources).

For the people deciding whether the hot path may use another structural check
(docs/performance.md, "What is left"): the figure that matters is `fhir_only`, edits that
fhir.resources rejects and the prototype accepts; it must stay 0 for the prototype to be
a sound fast path (run fhir.resources only when the prototype finds a fault).

    python bench/structure_check.py            # 2,000 timed calls, 20,000 edits
    python bench/structure_check.py --smoke    # small and quick
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from profiles import lean_structure
from profiles.structure import model_class
from tests.support.structure_edits import edit

EXAMPLES = Path(__file__).resolve().parent.parent / "profiles" / "examples"
TIMED = ["ChiroAssessmentReferral-plain", "ChiroPatient-no", "ChiroPractitionerRole-gp",
         "ReferralTask-requested", "QuestionnaireResponse-hscl10"]


def fhir_rejects(resource: Any) -> bool:
    """fhir.resources' own verdict (`check_structure` adds the lean check's faults to it)."""
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str) or model_class(rtype) is None:
        return True
    try:
        model_class(rtype).model_validate(resource)
    except Exception:
        return True
    return False


def lean_rejects(resource: Any) -> bool:
    return not lean_structure.passes(resource)


def timing(count: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in TIMED:
        doc = json.loads((EXAMPLES / f"{name}.json").read_text())
        cls = model_class(doc["resourceType"])
        pydantic_s = min(timeit.repeat(lambda c=cls, d=doc: c.model_validate(d),  # type: ignore[misc]
                                       number=count, repeat=5))
        lean_s = min(timeit.repeat(lambda d=doc: lean_structure.passes(d),  # type: ignore[misc]
                                   number=count, repeat=5))
        rows.append({"example": name, "model_validate_us": round(pydantic_s / count * 1e6, 1),
                     "lean_us": round(lean_s / count * 1e6, 1)})
        print(f"{name:36s} model_validate {rows[-1]['model_validate_us']:8.1f} us   "
              f"lean {rows[-1]['lean_us']:7.1f} us   "
              f"{rows[-1]['model_validate_us'] / rows[-1]['lean_us']:5.1f}x")
    return rows


def agreement(edits: int) -> dict[str, int]:
    valid = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))
             if ".expected" not in p.name]
    invalid = [json.loads(p.read_text()) for p in sorted((EXAMPLES / "invalid").glob("*.json"))
               if ".expected" not in p.name]
    counts = {"valid_rejected_by_lean": sum(lean_rejects(r) for r in valid),
              "fixtures_only_fhir_rejects": sum(fhir_rejects(r) and not lean_rejects(r)
                                                for r in invalid),
              "both": 0, "neither": 0, "lean_only": 0, "fhir_only": 0}
    rng = random.Random(20261126)
    for _ in range(edits):
        mutated = edit(rng.choice(valid), rng)
        lean, fhir = lean_rejects(mutated), fhir_rejects(mutated)
        key = "both" if lean and fhir else "lean_only" if lean else "fhir_only" if fhir else \
            "neither"
        counts[key] += 1
        if key == "fhir_only":
            print("fhir.resources rejects, lean accepts:", json.dumps(mutated)[:300])
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--smoke", action="store_true", help="small quick run")
    args = ap.parse_args()
    rows = timing(50 if args.smoke else 2000)
    counts = agreement(1000 if args.smoke else 20000)
    print("agreement:", ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(json.dumps({"timing": rows, **counts}))
    unsound = sum(counts[k] for k in ("fhir_only", "valid_rejected_by_lean",
                                      "fixtures_only_fhir_rejects"))
    if unsound:
        raise SystemExit(f"the prototype disagrees where it must not ({unsound} cases)")


if __name__ == "__main__":
    main()
