"""Validate a resource: structure, base R4 rules, then every applicable chiroref profile.

`validate_resource` never raises; it returns every issue found, each with a FHIRPath
expression rooted at the resource type (or at `Bundle.entry[i].resource` inside a
Bundle). Order of work per resource:
1. resourceType known? (else one error and stop)
2. structure: the fhir.resources R4B model (unknown elements, types, formats)
3. base R4: cardinality, required bindings and invariants (generated r4-core rules)
4. national identifiers at `<Type>.identifier` (check digits, wherever they appear)
5. profiles: meta.profile, then `profiles`, then the type's default profiles
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from profiles.checks import NationalId
from profiles.issues import Issue
from profiles.package import default_profiles, package
from profiles.rules import Context
from profiles.structure import check_resource_type, check_structure

_NATIONAL_IDS: Final = NationalId("chiro-nid-1", "chiroref")
_NO_REFS: Final[Mapping[str, str]] = {}


def validate_resource(resource: Any, profiles: Sequence[str] = ()) -> list[Issue]:
    """Every issue of `resource` against the base R4 rules and the applicable profiles."""
    try:
        return dedupe(_validate(resource, profiles, None, _NO_REFS))
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
            out.append(issue)
    return out


def profile_urls(resource: dict[str, Any], extra: Sequence[str]) -> list[tuple[str, str | None]]:
    """(url, where it was named) for meta.profile, `extra` and the defaults, once each."""
    meta = resource.get("meta")
    named = meta.get("profile", []) if isinstance(meta, dict) else []
    found: list[tuple[str, str | None]] = []
    for i, url in enumerate(named if isinstance(named, list) else []):
        if isinstance(url, str):
            found.append((url.split("|")[0], f"meta.profile[{i}]"))
    defaults = default_profiles(resource["resourceType"], resource)
    found += [(u, None) for u in (*extra, *defaults)]
    first = {u: i for i, (u, _w) in reversed(list(enumerate(found)))}
    return [(u, w) for i, (u, w) in enumerate(found) if first[u] == i]


def _validate(resource: Any, profiles: Sequence[str], root: str | None,
              refs: Mapping[str, str]) -> list[Issue]:
    bad = check_resource_type(resource)
    if bad is not None:
        if root is not None and bad.expression is not None:
            bad = Issue(bad.severity, bad.code, root + bad.expression[len("Resource"):],
                        bad.message)
        return [bad]
    rtype = resource["resourceType"]
    root = root or rtype
    if rtype == "Bundle":
        return _validate_bundle(resource, profiles, root)
    issues = check_structure(resource, root)
    _run_rules(resource, profiles, root, refs, issues)
    return issues


def _run_rules(resource: dict[str, Any], profiles: Sequence[str], root: str,
               refs: Mapping[str, str], issues: list[Issue]) -> None:
    pkg = package()
    rtype = resource["resourceType"]
    ctx = Context(resource, issues, refs)
    usable: list[str] = []
    for url, where in profile_urls(resource, profiles):
        tree = pkg.profiles.get(url)
        at = f"{root}.{where}" if where else root
        if tree is None:
            issues.append(Issue("warning", "not-supported", at, f"unknown profile {url}"))
        elif tree.resource_type != rtype:
            issues.append(Issue("error", "invalid", at,
                                f"profile {url} is for {tree.resource_type}, not {rtype}"))
        else:
            usable.append(url)
    pkg.rules_for(rtype, tuple(usable)).run(resource, ctx, root)
    ids = resource.get("identifier")
    for i, identifier in enumerate(ids if isinstance(ids, list) else []):
        _NATIONAL_IDS.check(identifier, f"{root}.identifier[{i}]", ctx)


def _validate_bundle(bundle: dict[str, Any], profiles: Sequence[str], root: str) -> list[Issue]:
    """The Bundle itself (without its entries' resources), then each entry's resource."""
    entries = bundle.get("entry")
    entries = entries if isinstance(entries, list) else []
    shell = dict(bundle)
    if entries:
        shell["entry"] = [{k: v for k, v in e.items() if k != "resource"}
                          if isinstance(e, dict) else e for e in entries]
    issues = check_structure(shell, root)
    _run_rules(bundle, profiles, root, _NO_REFS, issues)
    refs = {e["fullUrl"]: e["resource"].get("resourceType") for e in entries
            if isinstance(e, dict) and isinstance(e.get("fullUrl"), str)
            and isinstance(e.get("resource"), dict)}
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and "resource" in entry:
            issues += _validate(entry["resource"], (), f"{root}.entry[{i}].resource", refs)
    return issues
