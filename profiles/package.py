"""The profile package: its definitions, indexed by canonical URL, and their rule trees.

Everything is read from the package's own JSON files and compiled once, on first use
(`package()`); the service calls `package()` at start-up so no request pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Final

from profiles import canonical, r4_core, reference_targets
from profiles.codings import codings
from profiles.differential import compile_profile, core_type
from profiles.rules import RuleTree, merge
from profiles.terminology import Expansion, expand

DEFAULT_PROFILES: Final[dict[str, tuple[str, ...]]] = {
    "ServiceRequest": (canonical.REFERRAL,),
    "Task": (canonical.REFERRAL_TASK,),
    "Patient": (canonical.PATIENT,),
    "DiagnosticReport": (canonical.ASSESSMENT_FEEDBACK,),
}
# Observation code (system, code or None for any code) -> its profile
OBSERVATION_PROFILES: Final[dict[tuple[str, str | None], str]] = {
    (canonical.PROM_INSTRUMENT, None): canonical.PROM_OBSERVATION,
    (canonical.FEEDBACK_CODE, "yellow-flags"): canonical.YELLOW_FLAGS,
    (canonical.FEEDBACK_CODE, "icf-function-summary"): canonical.FUNCTION_SUMMARY,
}
CONFORMANCE_TYPES: Final = (
    "StructureDefinition", "ValueSet", "CodeSystem", "Questionnaire", "OperationDefinition",
)


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
    for tree in pkg.core.values():
        reference_targets.add_to(tree)
    for url, sd in resources.items():
        if sd["resourceType"] == "StructureDefinition" and sd.get("kind") == "resource":
            pkg.profiles[url] = compile_profile(sd, pkg.expansions.__getitem__, pkg.type_of)
    for rtype in pkg.core:
        pkg.rules_for(rtype, default_profiles(rtype))  # warm the common combinations
    return pkg


def default_profiles(resource_type: str,
                     resource: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Profiles a resource must meet, named in meta.profile or not.

    Without `resource`: the type's default (what the CapabilityStatement lists). With it,
    the choice may depend on content (cheap look-ups only):
    - ServiceRequest: an imaging request (category SNOMED 363679005 Imaging, or an
      imaging-procedure code) is not a referral: no default (ImagingCapacityRequest to come);
    - DiagnosticReport: a radiology report (category v2-0074 RAD) is not feedback: none;
    - Observation: by code system (prom-instrument, feedback-code yellow flags / ICF);
    - CarePlan: AssessmentRecommendation when an activity is coded with a chiroref
      recommendation kind or imaging procedure (so the imaging-indication warning is
      never skipped for want of a meta.profile).
    """
    if resource is None:
        return DEFAULT_PROFILES.get(resource_type, ())
    if resource_type == "Observation":
        return _observation_profile(resource)
    if resource_type == "CarePlan":
        return (canonical.ASSESSMENT_RECOMMENDATION,) if _recommends(resource) else ()
    if resource_type == "ServiceRequest" and _is_imaging_request(resource):
        return ()
    if resource_type == "DiagnosticReport" and _has_coding(
            resource.get("category"), canonical.V2_0074, "RAD"):
        return ()
    return DEFAULT_PROFILES.get(resource_type, ())


def _has_coding(concepts: Any, system: str, code: str | None) -> bool:
    for x in codings(concepts):
        if x.get("system") == system and (code is None or x.get("code") == code):
            return True
    return False


def _recommends(careplan: Mapping[str, Any]) -> bool:
    activities = careplan.get("activity")
    for activity in activities if isinstance(activities, list) else []:
        detail = activity.get("detail") if isinstance(activity, dict) else None
        code = detail.get("code") if isinstance(detail, dict) else None
        if _has_coding(code, canonical.RECOMMENDATION_KIND, None) or _has_coding(
                code, canonical.IMAGING_PROCEDURE, None):
            return True
    return False


def _is_imaging_request(resource: Mapping[str, Any]) -> bool:
    return (_has_coding(resource.get("category"), canonical.SNOMED, canonical.SNOMED_IMAGING)
            or _has_coding(resource.get("code"), canonical.IMAGING_PROCEDURE, None))


def _observation_profile(resource: Mapping[str, Any]) -> tuple[str, ...]:
    for coding in codings(resource.get("code")):
        system, code = coding.get("system"), coding.get("code")
        if isinstance(system, str):
            found = OBSERVATION_PROFILES.get((system, None)) or OBSERVATION_PROFILES.get(
                (system, code if isinstance(code, str) else None))
            if found:
                return (found,)
    return ()


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
