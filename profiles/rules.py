"""Compiled rules, indexed by element path in a tree that follows the resource.

`RuleTree.run(resource)` walks only the elements that are present and have rules:
each `Node` holds the checks for every occurrence of its element (`checks`) and the
cardinality of its children (`counts`, which must fire when a child is absent).
Checks are small objects with one method, built once at start-up; on its first run a
node turns its rules into a `Plan` (what to call, in order, and which child each JSON
key leads to), so a walk does no look-up that could have been done once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from profiles.elements import (
    Segment,
    choice_keys,
    choice_keys_by_name,
    count,
    count_under,
    stems,
)
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

    def fast_key(self) -> str | None:
        """The JSON key of a plain element (not a choice nor an extension slice) whose
        count may be read straight off that key, when this cardinality allows 1: a value
        that is not a list counts 1, a non-empty list its length (enough up to `most`).
        None otherwise (also for a min above 1 or a max of 0)."""
        seg = self.segment
        plain = seg.key is not None and seg.url is None
        allows_one = self.min <= 1 and (self.max is None or self.max >= 1)
        return seg.key if plain and allows_one else None

    def choice(self) -> str | None:
        """The element name when it is a choice (`name[x]`)."""
        return self.segment.name if self.segment.key is None else None

    def most(self) -> int:
        return sys.maxsize if self.max is None else self.max

    def check(self, parent: Any, expr: str, ctx: Context) -> None:
        self.check_count(count(parent, self.segment), expr, ctx)

    def check_count(self, n: int, expr: str, ctx: Context) -> None:
        """Report `n` occurrences when they do not meet this cardinality."""
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


MAX_REMEMBERED_KEYS = 64  # per node, see Plan.visits_for
MAX_REMEMBERED_KEY_LENGTH = 64
CheckFn = Callable[[Any, str, Context], None]
# A child to run for a JSON key: (segment, node, by choice). `by choice`: the child is a
# choice element `name[x]` and the key one of its choice keys (see Node.run_choices).
Visit = tuple[Segment, "Node", bool]


@dataclass(frozen=True, slots=True)
class Plan:
    """What `Node.run` does, worked out once from the node's rules (on its first run)."""

    checks: tuple[CheckFn, ...]  # the checks' bound `check` methods, in order
    # (card.fast_key(), card.choice(), card.most(), card) of each cardinality, in order
    counts: tuple[tuple[str | None, str | None, int, Cardinality], ...]
    children: tuple[tuple[Segment, Node], ...]
    choice_names: tuple[str, ...]  # names of the `name[x]` children
    # JSON key -> children to run: every key a child's segment names, and other keys
    # once seen (see `visits_for`)
    visits: dict[str, tuple[Visit, ...]]

    @classmethod
    def of(cls, node: Node) -> Plan:
        counts = tuple((card.fast_key(), card.choice(), card.most(), card)
                       for card in node.counts.values())
        children = tuple(node.children.items())
        named = {seg.key: visits_of(children, seg.key)
                 for seg, _node in children if seg.key is not None}
        return cls(tuple(check.check for check in node.checks), counts, children,
                   tuple(seg.name for seg, _node in children if seg.key is None), named)

    def visits_for(self, key: str) -> tuple[Visit, ...]:
        """The visits of a key no child's segment names: none, or the choice elements
        it is a choice key of. Remembered for the next resources (see `_may_remember`)."""
        # A choice key starts with its element's name: other keys need no `stems`. Like
        # `stems`, str.startswith raises TypeError for a key that is not a string.
        if self.choice_names and str.startswith(key, self.choice_names):
            visits = visits_of(self.children, key)
        else:
            visits = ()
        if self._may_remember(key):
            self.visits[key] = visits
        return visits

    def _may_remember(self, key: str) -> bool:
        """Bounded: keys come from requests (any key of any JSON object)."""
        return (isinstance(key, str) and len(key) <= MAX_REMEMBERED_KEY_LENGTH
                and len(self.visits) < MAX_REMEMBERED_KEYS)


def visits_of(children: tuple[tuple[Segment, Node], ...], key: str) -> tuple[Visit, ...]:
    """The children to run for the JSON key `key`: those whose segment names it, then the
    choice elements it is a choice key of."""
    names = stems(key)
    named = [(seg, node, False) for seg, node in children if seg.key == key]
    by_choice = [(seg, node, True) for seg, node in children
                 if seg.key is None and seg.name in names]
    return (*named, *by_choice)


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
        if plan.counts:
            self._check_counts(plan, value, expr, ctx)
        if plan.children:
            self._run_children(plan, value, expr, ctx)

    def _check_counts(self, plan: Plan, value: dict[str, Any], expr: str,
                      ctx: Context) -> None:
        """Each cardinality, in order. The common cases are counted here rather than by
        `Cardinality.check`: a plain element held the usual way, and choice elements
        (the choice keys of `value` are found once, for all of them)."""
        by_name = None
        for fast_key, choice, most, card in plan.counts:
            if fast_key is not None:
                found = value.get(fast_key)
                if found is not None and (not isinstance(found, list) or 0 < len(found) <= most):
                    continue
            elif choice is not None:
                if by_name is None:
                    by_name = choice_keys_by_name(value)
                keys = by_name.get(choice)
                n = count_under(value, keys) if keys else 0
                if not card.min <= n <= most:
                    card.check_count(n, expr, ctx)
                continue
            card.check(value, expr, ctx)

    def _run_children(self, plan: Plan, value: dict[str, Any], expr: str,
                      ctx: Context) -> None:
        """Each child with rules, in the order of the JSON keys naming it."""
        for key, found in value.items():
            visits = plan.visits.get(key)
            if visits is None:
                visits = plan.visits_for(key)
            for seg, node, by_choice in visits:
                if by_choice:
                    node.run_choices(value, seg, expr, ctx)
                elif seg.url is None and not isinstance(found, list):
                    node.run(found, f"{expr}.{seg.name}", ctx)  # one value: no loop
                else:
                    node.run_found(found, seg, expr, ctx)

    def absorb(self, other: Node) -> None:
        """Add another node's rules to this one (to walk several trees in one pass)."""
        for seg, node in other.children.items():
            self.child(seg).absorb(node)
        self.checks.extend(other.checks)
        self.counts.update(other.counts)
        self._plan = None

    def run_choices(self, parent: dict[str, Any], seg: Segment, expr: str,
                    ctx: Context) -> None:
        """Run on each occurrence of the choice element `seg` (`name[x]`) in `parent`,
        under every choice key present. Called once per choice key present: with two
        of them, each is visited twice (the repeated issues are dropped by dedupe)."""
        for key in choice_keys(parent, seg.name):
            self.run_found(parent[key], seg, expr, ctx)

    def run_found(self, found: Any, seg: Segment, expr: str, ctx: Context) -> None:
        """Run on each occurrence of `seg` in `found`, the value of its JSON key: each
        list item, or the value itself (for an extension slice, those with its url)."""
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
