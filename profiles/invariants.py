"""Invariants: FHIRPath constraints compiled once, evaluated per element occurrence.

Three ways to evaluate, chosen at start-up:
- native by key (`NATIVE`): Python that says the same as the expression, for the ones
  fhirpathpy cannot run (hasValue(), %rootResource) or that run on hot paths;
- native by shape: `a.exists() or b.empty() or ...` over plain child names;
- fhirpathpy.compile(expression), once, with the R4 model.
An invariant with `when` trigger names is skipped when none of them is present: its
result is then known to be "true" (checked by the extraction tool for base R4 ones).
An evaluator gets %resource, or %rootResource (the container, inside a contained
resource) when the expression reads that. A failure to evaluate is a warning naming the
exception type only (never its text: fhirpathpy puts Python object reprs in it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import fhirpathpy
from fhirpathpy.models import models

from profiles.elements import present
from profiles.issues import Issue, Severity
from profiles.native import NATIVE
from profiles.rules import Context

Evaluator = Callable[[Any, dict[str, Any]], bool]

_QUIET: Final = {"traceFn": lambda *args, **kwargs: None}
_TERM = re.compile(r"^(\w+)\.(exists|empty)\(\)$")


def by_shape(expression: str, names: Mapping[str, str]) -> Evaluator | None:
    """A native evaluator for `x.exists() or y.empty() or ...`, else None."""
    terms = [_TERM.match(t.strip()) for t in expression.split(" or ")]
    if not terms or any(m is None or m.group(1) not in names for m in terms):
        return None
    parts = [(names[m.group(1)], m.group(2) == "exists") for m in terms if m]

    def evaluate(value: Any, root: dict[str, Any]) -> bool:
        for name, want in parts:  # noqa: SIM110 (no generator per call)
            if present(value, name) == want:
                return True
        return False

    return evaluate


def by_fhirpath(expression: str) -> Evaluator:
    compiled = fhirpathpy.compile(expression, model=models["r4"], options=_QUIET)

    def evaluate(value: Any, root: dict[str, Any]) -> bool:
        result = compiled(value, {"resource": root, "rootResource": root})
        return result == [] or result == [True]

    return evaluate


@dataclass(frozen=True, slots=True)
class Invariant:
    key: str
    severity: Severity
    human: str
    expression: str
    when: tuple[str, ...] | None
    evaluate: Evaluator
    source: str
    rooted: bool = False  # reads %rootResource: give it the container
    # the keys whose presence triggers it, when no `when` name is a choice (`x[x]`)
    trigger_keys: frozenset[str] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.when is not None and not any(n.endswith("[x]") for n in self.when):
            keys = frozenset(k for n in self.when for k in (n, f"_{n}"))
            object.__setattr__(self, "trigger_keys", keys)  # frozen: set once, here

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        if not isinstance(value, dict):
            return
        if self.trigger_keys is not None:
            if value.keys().isdisjoint(self.trigger_keys):
                return
        elif self.when is not None and not any(present(value, n) for n in self.when):
            return
        try:
            ok = self.evaluate(value, ctx.root_resource if self.rooted else ctx.root)
        except Exception as exc:  # fhirpathpy raises plain Exception on odd input
            ctx.out.append(Issue("warning", "processing", expr,
                                 f"{self.key} could not be evaluated ({type(exc).__name__})"))
            return
        if not ok:
            ctx.out.append(Issue(self.severity, "invariant", expr,
                                 f"{self.key}: {self.human} ({self.source})"))


def compile_invariant(key: str, severity: str, human: str, expression: str,
                      when: Sequence[str] | None, source: str, native: bool = False,
                      names: Sequence[str] | None = None) -> Invariant:
    """Build an invariant, choosing the cheapest evaluator that says the same.

    `names`: the child elements the expression reads (as stored: 'value[x]'), if known;
    `when`: trigger names, None when the invariant must always be evaluated."""
    read = {n.removesuffix("[x]"): n for n in (names if names is not None else when or ())}
    evaluate = NATIVE.get(key) or (by_shape(expression, read) if read else None)
    if evaluate is None:
        if native:
            raise ValueError(f"{key} is marked native but has no Python implementation")
        evaluate = by_fhirpath(expression)
    sev: Severity = "error" if severity == "error" else "warning"
    trig = tuple(when) if when is not None else None
    rooted = "%rootResource" in expression
    return Invariant(key, sev, human, expression, trig, evaluate, source, rooted)
