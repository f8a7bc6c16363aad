"""The profile package: its definitions, indexed by canonical URL, and their rule trees.

Everything is read from the package's own JSON files and compiled once, on first use
(`package()`); the service calls `package()` at start-up so no request pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Final

from profiles import canonical, r4_core
from profiles.differential import compile_profile, core_type
from profiles.rules import RuleTree, merge
from profiles.terminology import Expansion, expand

DEFAULT_PROFILES: Final[dict[str, tuple[str, ...]]] = {
    "ServiceRequest": (canonical.REFERRAL,),
    "Task": (canonical.REFERRAL_TASK,),
    "Patient": (canonical.PATIENT,),
}
CONFORMANCE_TYPES: Final = ("StructureDefinition", "ValueSet", "CodeSystem")


def _json_files(folder: Traversable) -> Iterator[Traversable]:
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if item.is_dir():
            yield from _json_files(item)
        elif item.name.endswith(".json"):
            yield item


def definitions_folder() -> Traversable:
    return files("profiles") / "definitions"


@dataclass(frozen=True, slots=True)
class Package:
    resources: dict[str, dict[str, Any]]  # canonical URL -> definition
    expansions: dict[str, Expansion]  # ValueSet URL -> expansion
    profiles: dict[str, RuleTree]  # StructureDefinition URL (constraint on a resource)
    core: dict[str, RuleTree]  # resource type -> base R4 rules
    core_data: dict[str, Any]  # the generated r4-core file, for its skipped lists
    merged: dict[tuple[str, tuple[str, ...]], RuleTree]  # see rules_for

    def rules_for(self, resource_type: str, urls: tuple[str, ...]) -> RuleTree:
        """Base R4 rules plus the named profiles' rules, merged once per combination."""
        key = (resource_type, urls)
        tree = self.merged.get(key)
        if tree is None:
            parts = [self.core[resource_type]] if resource_type in self.core else []
            tree = merge(resource_type, parts + [self.profiles[u] for u in urls])
            if len(self.merged) < 256:  # bounded: urls come from requests
                self.merged[key] = tree
        return tree

    def type_of(self, url: str) -> str:
        found = core_type(url)
        return found if found is not None else str(self.resources[url]["type"])


def _load_definitions() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = {}
    core: dict[str, Any] = {}
    for item in _json_files(definitions_folder()):
        data = json.loads(item.read_text(encoding="utf-8"))
        if data.get("resourceType") in CONFORMANCE_TYPES:
            resources[data["url"]] = data
        elif "valueSets" in data and "types" in data:
            core = data
    return resources, core


@cache
def package() -> Package:
    resources, core_data = _load_definitions()
    systems = {u: r for u, r in resources.items() if r["resourceType"] == "CodeSystem"}
    expansions = {u: Expansion.of(u, [(s, c) for s, c in codes])
                  for u, codes in core_data["valueSets"].items()}
    expansions |= {u: expand(r, systems) for u, r in resources.items()
                   if r["resourceType"] == "ValueSet"}
    pkg = Package(resources, expansions, {}, r4_core.build_all(core_data), core_data, {})
    for url, sd in resources.items():
        if sd["resourceType"] == "StructureDefinition" and sd.get("kind") == "resource":
            pkg.profiles[url] = compile_profile(sd, pkg.expansions.__getitem__, pkg.type_of)
    for rtype in pkg.core:
        pkg.rules_for(rtype, default_profiles(rtype))  # warm the common combinations
    return pkg


def default_profiles(resource_type: str) -> tuple[str, ...]:
    """Profiles every resource of this type must meet, named in meta.profile or not."""
    return DEFAULT_PROFILES.get(resource_type, ())


def supported_profiles() -> dict[str, list[str]]:
    """Resource type -> URLs of the chiroref profiles on it (for the CapabilityStatement)."""
    out: dict[str, list[str]] = {}
    for url, tree in package().profiles.items():
        out.setdefault(tree.resource_type, []).append(url)
    return {t: sorted(urls) for t, urls in sorted(out.items())}


def definition(url: str) -> dict[str, Any]:
    """A StructureDefinition, ValueSet or CodeSystem by canonical URL (`url|version` too).

    Raises KeyError for an unknown URL."""
    return package().resources[url.split("|")[0]]
