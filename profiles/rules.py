"""Compiled rules, indexed by element path in a tree that follows the resource.

`RuleTree.run(resource)` walks only the elements that are present and have rules:
each `Node` holds the checks for every occurrence of its element (`checks`) and the
cardinality of its children (`counts`, which must fire when a child is absent).
Checks are small objects with one method, built once at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
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


@dataclass(slots=True)
class Node:
    children: dict[Segment, Node] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    counts: dict[tuple[Segment, str], Cardinality] = field(default_factory=dict)

    def child(self, seg: Segment) -> Node:
        node = self.children.get(seg)
        if node is None:
            node = self.children[seg] = Node()
        return node

    _by_key: dict[str, list[tuple[Segment, Node]]] | None = None
    _choices: list[tuple[str, Segment, Node]] | None = None

    def _index(self) -> dict[str, list[tuple[Segment, Node]]]:
        """JSON key -> children to visit (built once, after all rules are added)."""
        by_key: dict[str, list[tuple[Segment, Node]]] = {}
        self._choices = []
        for seg, node in self.children.items():
            if seg.key is None:
                self._choices.append((seg.name, seg, node))
            else:
                by_key.setdefault(seg.key, []).append((seg, node))
        self._by_key = by_key
        return by_key

    def run(self, value: Any, expr: str, ctx: Context) -> None:
        for check in self.checks:
            check.check(value, expr, ctx)
        if not isinstance(value, dict):
            return  # a primitive where an object belongs: the structural check says so
        for card in self.counts.values():
            card.check(value, expr, ctx)
        if not self.children:
            return
        by_key = self._by_key if self._by_key is not None else self._index()
        for key in value:
            for seg, node in by_key.get(key, ()):
                node.visit(value, seg, expr, ctx)
            if self._choices:
                name = stem(key)
                for choice, seg, node in self._choices:
                    if choice == name and key != name:
                        node.visit(value, seg, expr, ctx)

    def absorb(self, other: Node) -> None:
        """Add another node's rules to this one (to walk several trees in one pass)."""
        for seg, node in other.children.items():
            self.child(seg).absorb(node)
        self.checks.extend(other.checks)
        self.counts.update(other.counts)
        self._by_key = None

    def visit(self, parent: dict[str, Any], seg: Segment, expr: str, ctx: Context) -> None:
        for suffix, item in instances(parent, seg):
            self.run(item, f"{expr}.{suffix}", ctx)


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
        self.node(segments).checks.append(check)

    def add_cardinality(self, segments: list[str], min_: int, max_: int | None,
                        source: str) -> None:
        """Cardinality of the element at `segments` (the last one), checked on its parent."""
        seg = Segment.parse(segments[-1])
        self.node(segments[:-1]).counts[(seg, source)] = Cardinality(seg, min_, max_, source)

    def run(self, resource: dict[str, Any], ctx: Context, expr: str | None = None) -> None:
        self.root.run(resource, expr or self.resource_type, ctx)


def merge(resource_type: str, trees: list[RuleTree]) -> RuleTree:
    """One tree holding the rules of all `trees`, walked in a single pass."""
    out = RuleTree(resource_type)
    for tree in trees:
        out.root.absorb(tree.root)
    return out
