"""Validate a resource: structure, base R4 rules, then every applicable chiroref profile.

`validate_resource` never raises; it returns every issue found, each with a FHIRPath
expression rooted at the resource type (or at `Bundle.entry[i].resource` inside a
Bundle). Order of work per resource:
1. resourceType known? (else one error and stop)
2. structure: the fhir.resources R4B model (unknown elements, types, formats)
3. base R4: cardinality, required bindings and invariants (generated r4-core rules)
4. national identifiers at `<Type>.identifier` (check digits, wherever they appear)
5. profiles: meta.profile, then `profiles`, then the type's default profiles
6. each contained resource: base R4 rules and national identifiers (its structure is
   part of step 2), at `<Type>.contained[i]`; no profiles
No message carries a Python object repr (`_scrub`: a last guard, rules avoid them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from profiles import lean_structure
from profiles.checks import NationalId
from profiles.issues import Issue
from profiles.package import default_profiles, package
from profiles.rules import Context
from profiles.structure import check_resource_type, check_structure

_NATIONAL_IDS: Final = NationalId("chiro-nid-1", "chiroref")
_NO_REFS: Final[Mapping[str, str]] = {}
_REPR: Final = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>")


def validate_resource(resource: Any, profiles: Sequence[str] = (), *,
                      synthetic_ids: bool = True) -> list[Issue]:
    """Every issue of `resource` against the base R4 rules and the applicable profiles.

    `synthetic_ids=False` refuses Norwegian synthetic test numbers (month + 40 / + 80)."""
    try:
        return dedupe(_validate(resource, profiles, None, _NO_REFS, synthetic_ids))
    except Exception as exc:  # a bug in a rule must not turn into a 500
        return [Issue("fatal", "exception", None, f"validator failed: {type(exc).__name__}")]


def validate_file(path: str | Path) -> list[Issue]:
    """Validate a JSON file holding one resource or a Bundle."""
    try:
        data = json.loads(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        return [Issue("fatal", "structure", None, f"cannot read {path}: {exc}")]
    return validate_resource(data)


def dedupe(issues: list[Issue]) -> list[Issue]:
    seen: set[tuple[str, str, str | None]] = set()
    out = []
    for issue in issues:
        key = (issue.severity, issue.code, issue.expression)
        if key not in seen:
            seen.add(key)
            out.append(_scrub(issue))
    return out


def _scrub(issue: Issue) -> Issue:
    if " object at 0x" not in issue.message:
        return issue
    return Issue(issue.severity, issue.code, issue.expression,
                 _REPR.sub("<object>", issue.message))


def profile_urls(resource: dict[str, Any], extra: Sequence[str]) -> list[tuple[str, str | None]]:
    """(url, where it was named) for meta.profile, `extra` and the defaults, once each."""
    meta = resource.get("meta")
    named = meta.get("profile", []) if isinstance(meta, dict) else []
    found: dict[str, str | None] = {}  # url -> where it was first named, in order
    for i, url in enumerate(named if isinstance(named, list) else []):
        if isinstance(url, str):
            found.setdefault(url.partition("|")[0], f"meta.profile[{i}]")
    for url in (*extra, *default_profiles(resource["resourceType"], resource)):
        found.setdefault(url, None)
    return list(found.items())


def _validate(resource: Any, profiles: Sequence[str], root: str | None,
              refs: Mapping[str, str], synthetic_ids: bool) -> list[Issue]:
    bad = check_resource_type(resource)
    if bad is not None:
        if root is not None:
            where = root + bad.expression[len("Resource"):] if bad.expression else root
            bad = Issue(bad.severity, bad.code, where, bad.message)
        return [bad]
    rtype = resource["resourceType"]
    root = root or rtype
    if rtype == "Bundle":
        return _validate_bundle(resource, profiles, root, synthetic_ids)
    issues = check_structure(resource, root)
    ctx = Context(resource, issues, refs, synthetic_ids=synthetic_ids)
    _run_rules(resource, profiles, root, ctx)
    if "contained" in resource:
        _run_contained(resource, root, ctx)
    return issues


def _run_rules(resource: dict[str, Any], profiles: Sequence[str], root: str,
               ctx: Context) -> None:
    pkg = package()
    rtype = resource["resourceType"]
    issues = ctx.out
    usable: list[str] = []
    for url, where in profile_urls(resource, profiles):
        tree = pkg.profiles.get(url)
        if tree is not None and tree.resource_type == rtype:
            usable.append(url)
            continue
        at = f"{root}.{where}" if where else root
        if tree is None:
            issues.append(Issue("warning", "not-supported", at, f"unknown profile {url}"))
        else:
            issues.append(Issue("error", "invalid", at,
                                f"profile {url} is for {tree.resource_type}, not {rtype}"))
    pkg.rules_for(rtype, tuple(usable)).run(resource, ctx, root)
    _check_identifiers(resource, root, ctx)


def _check_identifiers(resource: dict[str, Any], root: str, ctx: Context) -> None:
    ids = resource.get("identifier")
    for i, identifier in enumerate(ids if isinstance(ids, list) else []):
        _NATIONAL_IDS.check(identifier, f"{root}.identifier[{i}]", ctx)


def _run_contained(container: dict[str, Any], root: str, parent: Context) -> None:
    """Base R4 rules and national identifiers of each contained resource (%resource is
    the contained one, %rootResource and '#id' look-ups the container). A contained
    item that is not a resource of a known type is the structural check's to report."""
    items = container.get("contained")
    for i, item in enumerate(items if isinstance(items, list) else []):
        if check_resource_type(item) is not None:
            continue
        ctx = Context(item, parent.out, parent.refs, container, parent.synthetic_ids)
        at = f"{root}.contained[{i}]"
        package().rules_for(item["resourceType"], ()).run(item, ctx, at)
        _check_identifiers(item, at, ctx)


def _validate_bundle(bundle: dict[str, Any], profiles: Sequence[str], root: str,
                     synthetic_ids: bool) -> list[Issue]:
    """The Bundle itself (without its entries' resources), then each entry's resource."""
    entries = bundle.get("entry")
    entries = entries if isinstance(entries, list) else []
    shell = dict(bundle)
    if entries:
        shell["entry"] = [{k: v for k, v in e.items() if k != "resource"}
                          if isinstance(e, dict) else e for e in entries]
    hollowed = {f"{root}.entry[{i}]" for i, e in enumerate(entries)
                if isinstance(e, dict) and e.keys() == {"resource"}}
    issues = [i for i in check_structure(shell, root)  # an entry of only a resource is not {}
              if not (i.expression in hollowed and i.message == lean_structure.EMPTY_OBJECT)]
    _run_rules(bundle, profiles, root, Context(bundle, issues, _NO_REFS, None, synthetic_ids))
    refs = {e["fullUrl"]: e["resource"].get("resourceType") for e in entries
            if isinstance(e, dict) and isinstance(e.get("fullUrl"), str)
            and isinstance(e.get("resource"), dict)}
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and "resource" in entry:
            issues += _validate(entry["resource"], (), f"{root}.entry[{i}].resource", refs,
                                synthetic_ids)
    return issues
