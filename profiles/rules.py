"""Compiled rules, indexed by element path in a tree that follows the resource.

`RuleTree.run(resource)` walks only the elements that are present and have rules:
each `Node` holds the checks for every occurrence of its element (`checks`) and the
cardinality of its children (`counts`, which must fire when a child is absent).
Checks are small objects with one method, built once at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from profiles.elements import Segment, count, instances, stem
from profiles.issues import Issue


@dataclass(slots=True)
class Context:
    """What a check may need beyond its element: the root resource, where to report."""

    root: dict[str, Any]  # the resource being walked (FHIRPath %resource)
    out: list[Issue]
    refs: Mapping[str, str]  # Bundle fullUrl -> resourceType, for reference targets
    container: dict[str, Any] | None = None  # the resource holding `root` in `contained`
    synthetic_ids: bool = True  # accept Norwegian synthetic test numbers

    @property
    def root_resource(self) -> dict[str, Any]:
        """FHIRPath %rootResource: the container of a contained resource, else `root`."""
        return self.root if self.container is None else self.container


class Check(Protocol):
    def check(self, value: Any, expr: str, ctx: Context) -> None: ...


@dataclass(frozen=True, slots=True)
class Cardinality:
    segment: Segment
    min: int
    max: int | None  # None: unbounded
    source: str  # profile name or "FHIR R4"

    def check(self, parent: Any, expr: str, ctx: Context) -> None:
        n = count(parent, self.segment)
        if self.min <= n and (self.max is None or n <= self.max):
            return
        where = f"{expr}.{self.segment.fhirpath}"
        what = f"{self.source}: {self.segment.label}"
        if n < self.min:
            ctx.out.append(Issue("error", "required", where,
                                 f"{what}minimum {self.min}, found {n}"))
        else:
            ctx.out.append(Issue("error", "structure", where,
                                 f"{what}maximum {self.max}, found {n}"))


CheckFn = Callable[[Any, str, Context], None]
Children = tuple[tuple[Segment, "Node"], ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What `Node.run` does, worked out once from the node's rules (on its first run)."""

    checks: tuple[CheckFn, ...]  # the checks' bound `check` methods, in order
    counts: tuple[Cardinality, ...]
    by_key: dict[str, Children]  # JSON key -> children whose segment names that key
    choices: tuple[tuple[str, Segment, Node], ...]  # (name, segment, node) of `name[x]`
    choice_names: tuple[str, ...]  # for `str.startswith`: a key of no choice is skipped

    @classmethod
    def of(cls, node: Node) -> Plan:
        by_key: dict[str, list[tuple[Segment, Node]]] = {}
        choices = []
        for seg, child in node.children.items():
            if seg.key is None:
                choices.append((seg.name, seg, child))
            else:
                by_key.setdefault(seg.key, []).append((seg, child))
        return cls(tuple(check.check for check in node.checks), tuple(node.counts.values()),
                   {key: tuple(found) for key, found in by_key.items()}, tuple(choices),
                   tuple(name for name, _seg, _node in choices))


@dataclass(slots=True)
class Node:
    children: dict[Segment, Node] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    counts: dict[tuple[Segment, str], Cardinality] = field(default_factory=dict)
    _plan: Plan | None = None  # built on first run; dropped when a rule is added

    def child(self, seg: Segment) -> Node:
        node = self.children.get(seg)
        if node is None:
            node = self.children[seg] = Node()
            self._plan = None
        return node

    def add_check(self, check: Check) -> None:
        self.checks.append(check)
        self._plan = None

    def add_count(self, card: Cardinality) -> None:
        self.counts[(card.segment, card.source)] = card
        self._plan = None

    def run(self, value: Any, expr: str, ctx: Context) -> None:
        plan = self._plan
        if plan is None:
            plan = self._plan = Plan.of(self)
        for check in plan.checks:
            check(value, expr, ctx)
        if not isinstance(value, dict):
            return  # a primitive where an object belongs: the structural check says so
        for card in plan.counts:
            card.check(value, expr, ctx)
        if plan.by_key or plan.choices:
            self._run_children(plan, value, expr, ctx)

    def _run_children(self, plan: Plan, value: dict[str, Any], expr: str,
                      ctx: Context) -> None:
        """Each child with rules, in the order of the JSON keys naming it."""
        for key, found in value.items():
            for seg, node in plan.by_key.get(key, ()):
                node.run_found(found, seg, expr, ctx)
            if plan.choice_names and key.startswith(plan.choice_names):
                name = stem(key)
                for choice, seg, node in plan.choices:
                    if choice == name and key != name:
                        node.visit(value, seg, expr, ctx)

    def absorb(self, other: Node) -> None:
        """Add another node's rules to this one (to walk several trees in one pass)."""
        for seg, node in other.children.items():
            self.child(seg).absorb(node)
        self.checks.extend(other.checks)
        self.counts.update(other.counts)
        self._plan = None

    def visit(self, parent: dict[str, Any], seg: Segment, expr: str, ctx: Context) -> None:
        for suffix, item in instances(parent, seg):
            self.run(item, f"{expr}.{suffix}", ctx)

    def run_found(self, found: Any, seg: Segment, expr: str, ctx: Context) -> None:
        """Run on each occurrence of `seg` in `found`, the value of its JSON key (what
        `visit` does for a segment with a key, without a generator)."""
        url = seg.url
        if isinstance(found, list):
            for i, item in enumerate(found):
                if url is None or (isinstance(item, dict) and item.get("url") == url):
                    self.run(item, f"{expr}.{seg.name}[{i}]", ctx)
        elif url is None or (isinstance(found, dict) and found.get("url") == url):
            self.run(found, f"{expr}.{seg.name}", ctx)


@dataclass(slots=True)
class RuleTree:
    """All rules of one profile (or of the base R4 type), rooted at the resource."""

    resource_type: str
    root: Node = field(default_factory=Node)

    def node(self, segments: list[str]) -> Node:
        node = self.root
        for text in segments:
            node = node.child(Segment.parse(text))
        return node

    def add_check(self, segments: list[str], check: Check) -> None:
        self.node(segments).add_check(check)

    def add_cardinality(self, segments: list[str], min_: int, max_: int | None,
                        source: str) -> None:
        """Cardinality of the element at `segments` (the last one), checked on its parent."""
        seg = Segment.parse(segments[-1])
        self.node(segments[:-1]).add_count(Cardinality(seg, min_, max_, source))

    def run(self, resource: dict[str, Any], ctx: Context, expr: str | None = None) -> None:
        self.root.run(resource, expr or self.resource_type, ctx)


def merge(resource_type: str, trees: list[RuleTree]) -> RuleTree:
    """One tree holding the rules of all `trees`, walked in a single pass."""
    out = RuleTree(resource_type)
    for tree in trees:
        out.root.absorb(tree.root)
    return out
