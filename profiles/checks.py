"""Element checks other than invariants: fixed and pattern values, bindings, choice
types, reference targets and national identifiers. Each is built once and applied to
every occurrence of its element (see profiles.rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from profiles import identifiers, lean_structure
from profiles.elements import choice_keys
from profiles.issues import Issue, Severity
from profiles.rules import Context
from profiles.terminology import Expansion

# Hot loops below are plain `for` loops, not any()/all() over a generator (SIM110): a
# generator costs more than the whole check on these small inputs.


def matches(value: Any, pattern: Any) -> bool:
    """FHIR pattern semantics: every element of the pattern is present in the value."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for k, v in pattern.items():  # noqa: SIM110
            if k not in value or not matches(value[k], v):
                return False
        return True
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        for p in pattern:  # noqa: SIM110
            if not _matched_by_one(items, p):
                return False
        return True
    return bool(value == pattern)


def _matched_by_one(items: list[Any], pattern: Any) -> bool:
    for item in items:  # noqa: SIM110
        if matches(item, pattern):
            return True
    return False


@dataclass(frozen=True, slots=True)
class FixedValue:
    value: Any
    exact: bool  # fixed[x] (exact) or pattern[x]
    source: str

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        ok = value == self.value if self.exact else matches(value, self.value)
        if not ok:
            kind = "fixed" if self.exact else "pattern"
            ctx.out.append(Issue("error", "value", expr,
                                 f"{self.source}: must match {kind} value {self.value!r}"))


@dataclass(frozen=True, slots=True)
class Binding:
    expansion: Expansion
    strength: Literal["required", "extensible"]
    source: str

    def member(self, value: Any) -> bool:
        vs = self.expansion
        if isinstance(value, str):
            return vs.has_code(value)
        if not isinstance(value, dict):
            return True  # not a coded value: the structural check reports it
        if "coding" in value:
            # judged on its well-formed codings (objects in a list): the structural
            # check reports the others
            found = value["coding"]
            if not isinstance(found, list):
                return False
            for c in found:
                if isinstance(c, dict) and vs.has(c.get("system"), c.get("code")):
                    return True
            return False
        if "code" in value or "system" in value:
            return vs.has(value.get("system"), value.get("code"))
        return self.strength == "extensible"  # text only

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        if self.member(value):
            return
        severity: Severity = "error" if self.strength == "required" else "warning"
        ctx.out.append(Issue(severity, "code-invalid", expr,
                             f"{self.source}: {self.strength} binding to "
                             f"{self.expansion.url}: expected {self.expansion.describe()}"))


@dataclass(frozen=True, slots=True)
class ChoiceTypes:
    """Only the listed JSON keys of the choice element `name` are allowed."""

    name: str
    allowed: frozenset[str]
    source: str

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        if not isinstance(value, dict):
            return
        for key in choice_keys(value, self.name):
            if key not in self.allowed:
                ctx.out.append(Issue("error", "structure", f"{expr}.{self.name}",
                                     f"{self.source}: {key} not allowed; use "
                                     + " or ".join(sorted(self.allowed))))


def reference_type(ref: str, ctx: Context | None = None) -> str | None:
    """Resource type a reference points to, when it can be told without resolving (a
    contained `#id` and a Bundle entry's fullUrl only with the walk's `ctx`)."""
    if ctx is not None and ref in ctx.refs:
        return ctx.refs[ref]
    if ref.startswith("#"):
        if ctx is None:
            return None
        contained = ctx.root_resource.get("contained")
        for item in contained if isinstance(contained, list) else []:
            if isinstance(item, dict) and item.get("id") == ref[1:]:
                return str(item.get("resourceType"))
        return None
    if ref.startswith("urn:"):
        return None
    if "?" in ref:  # a conditional reference (`Organization?identifier=s|v`)
        head = ref.split("?", 1)[0]
        return head if is_resource_type(head) else None
    parts = ref.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    kind = parts[-2] if len(parts) >= 2 else ""
    # an absolute URL of another kind (`https://x.example/People/42`) names no type
    return kind if is_resource_type(kind) else None


def is_resource_type(name: str) -> bool:
    """Whether `name` is a concrete FHIR resource type (not Resource, DomainResource)."""
    return lean_structure.resource_table(name) is not None


@dataclass(frozen=True, slots=True)
class ReferenceTarget:
    types: frozenset[str]
    source: str

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        if not isinstance(value, dict):
            return
        found = value.get("type")
        ref = value.get("reference")
        if isinstance(ref, str):
            found = reference_type(ref, ctx) or found
        if isinstance(found, str) and found not in self.types:
            ctx.out.append(Issue("error", "value", f"{expr}.reference" if ref else expr,
                                 f"{self.source}: must reference "
                                 f"{' or '.join(sorted(self.types))}, not {found}"))


@dataclass(frozen=True, slots=True)
class NationalId:
    """Check digits and embedded dates of identifiers with a known national system."""

    key: str
    source: str

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        if not isinstance(value, dict):
            return
        why = identifiers.assess(value.get("system"), value.get("value"), ctx.synthetic_ids)
        if why is not None:
            ctx.out.append(Issue(why.severity, "value", f"{expr}.value",
                                 f"{self.key}: {why.text}"))


@dataclass(frozen=True, slots=True)
class CitesReferral:
    """chiro-cp-2: one of `supportingInfo` is a ServiceRequest (the referral). References
    whose type cannot be told without resolving them (absolute URLs, unknown urn:uuid)
    get the benefit of the doubt."""

    key: str
    source: str

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        infos = value.get("supportingInfo") if isinstance(value, dict) else None
        if not isinstance(infos, list) or not infos:
            return  # cardinality reports it
        types = [_target_type(ref, ctx) for ref in infos]
        if "ServiceRequest" not in types and None not in types:
            ctx.out.append(Issue("error", "invariant", f"{expr}.supportingInfo",
                                 f"{self.key}: supportingInfo names the referral "
                                 f"(a ServiceRequest) ({self.source})"))


def _target_type(ref: Any, ctx: Context) -> str | None:
    if not isinstance(ref, dict):
        return ""
    found = ref.get("type")
    target = ref.get("reference")
    if isinstance(target, str):
        found = reference_type(target, ctx) or found
    return found if isinstance(found, str) else None
