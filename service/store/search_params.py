"""The search-parameter registry: which parameters each stored type supports.

`SEARCH_PARAMS[type][name]` gives the parameter's FHIR type, its FHIRPath `expression`
(for the CapabilityStatement) and the JSON paths and walker (plain Python, indexing.py)
used at write time; each type's parameters compile into one plan of steps (`_PLANS`).
`_id` and `_lastUpdated` are columns of `resources`, not index rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache, partial
from typing import Any, Final, Literal

from profiles.structure import reference_targets
from service.store import indexing
from service.store.indexing import Each, IndexValue, Step

ParamType = Literal["token", "reference", "date", "string", "uri"]


@dataclass(frozen=True, slots=True)
class SearchParamDef:
    name: str
    type: ParamType
    expression: str  # FHIRPath, as published in the CapabilityStatement
    paths: tuple[tuple[str, ...], ...] = ()  # JSON paths walked at write time
    each: Each | None = None  # (param name, node at a path) -> index values
    indexed: bool = True  # False: a column of `resources` (_id, _lastUpdated)
    only: frozenset[str] = frozenset()  # a reference's `.where(resolve() is X)` types


def _def(name: str, ptype: ParamType, expression: str, paths: tuple[str, ...],
         each: Each) -> SearchParamDef:
    return SearchParamDef(name, ptype, expression, tuple(tuple(p.split(".")) for p in paths),
                          each)


def token(name: str, expression: str, *paths: str) -> SearchParamDef:
    return _def(name, "token", expression, paths, indexing.tokens)


def reference(name: str, expression: str, *paths: str, only: str = "") -> SearchParamDef:
    types = frozenset(only.split()) if only else frozenset()
    definition = _def(name, "reference", expression, paths,
                      partial(indexing.references, types=types))
    return replace(definition, only=types)


def date(name: str, expression: str, *paths: str) -> SearchParamDef:
    return _def(name, "date", expression, paths, indexing.dates)


def string(name: str, expression: str, *paths: str) -> SearchParamDef:
    return _def(name, "string", expression, paths, indexing.strings)


def uri(name: str, expression: str, *paths: str) -> SearchParamDef:
    return _def(name, "uri", expression, paths, indexing.uris)


def _common(rtype: str, has_identifier: bool) -> list[SearchParamDef]:
    params = [
        SearchParamDef("_id", "token", "Resource.id", indexed=False),
        SearchParamDef("_lastUpdated", "date", "Resource.meta.lastUpdated", indexed=False),
    ]
    if has_identifier:
        params.append(token("identifier", f"{rtype}.identifier", "identifier"))
    return params


def _subject_pair(rtype: str, path: str = "subject") -> list[SearchParamDef]:
    return [
        reference("subject", f"{rtype}.{path}", path),
        reference(
            "patient", f"{rtype}.{path}.where(resolve() is Patient)", path, only="Patient"
        ),
    ]


def _based_on(rtype: str) -> SearchParamDef:
    return reference("based-on", f"{rtype}.basedOn", "basedOn")


def _status(rtype: str) -> SearchParamDef:
    return token("status", f"{rtype}.status", "status")


_SPECIFIC: Final[dict[str, list[SearchParamDef]]] = {
    "ServiceRequest": [
        _status("ServiceRequest"),
        *_subject_pair("ServiceRequest"),
        reference("requester", "ServiceRequest.requester", "requester"),
        reference("performer", "ServiceRequest.performer", "performer"),
        date("authored", "ServiceRequest.authoredOn", "authoredOn"),
        _based_on("ServiceRequest"),
        token("category", "ServiceRequest.category", "category"),
        token("code", "ServiceRequest.code", "code"),
    ],
    "Task": [
        _status("Task"),
        reference("owner", "Task.owner", "owner"),
        reference("focus", "Task.focus", "focus"),
        token("business-status", "Task.businessStatus", "businessStatus"),
        date("modified", "Task.lastModified", "lastModified"),
        date("authored-on", "Task.authoredOn", "authoredOn"),  # _sort: a referral's chain
        reference("requester", "Task.requester", "requester"),
        reference("patient", "Task.for.where(resolve() is Patient)", "for", only="Patient"),
        reference("part-of", "Task.partOf", "partOf"),
        _based_on("Task"),
    ],
    "Patient": [
        string("name", "Patient.name", "name"),
        date("birthdate", "Patient.birthDate", "birthDate"),
    ],
    "Practitioner": [string("name", "Practitioner.name", "name")],
    "PractitionerRole": [
        reference("practitioner", "PractitionerRole.practitioner", "practitioner"),
        reference("organization", "PractitionerRole.organization", "organization"),
        token("role", "PractitionerRole.code", "code"),
        token("specialty", "PractitionerRole.specialty", "specialty"),
    ],
    "Organization": [
        string("name", "Organization.name | Organization.alias", "name", "alias"),
        reference("partof", "Organization.partOf", "partOf"),
    ],
    "Endpoint": [
        reference("organization", "Endpoint.managingOrganization", "managingOrganization"),
        _status("Endpoint"),
    ],
    "Location": [
        reference("organization", "Location.managingOrganization", "managingOrganization"),
        string("address-postalcode", "Location.address.postalCode", "address.postalCode"),
    ],
    "HealthcareService": [
        reference("organization", "HealthcareService.providedBy", "providedBy"),
        reference("location", "HealthcareService.location", "location"),
        token("active", "HealthcareService.active", "active"),
    ],
    "DiagnosticReport": [
        _based_on("DiagnosticReport"),
        *_subject_pair("DiagnosticReport"),
        _status("DiagnosticReport"),
        token("code", "DiagnosticReport.code", "code"),
    ],
    "Observation": [
        _based_on("Observation"),
        *_subject_pair("Observation"),
        token("code", "Observation.code", "code"),
        _status("Observation"),
        reference("derived-from", "Observation.derivedFrom", "derivedFrom"),
        reference("part-of", "Observation.partOf", "partOf"),
    ],
    "CarePlan": [
        _based_on("CarePlan"),
        *_subject_pair("CarePlan"),
        _status("CarePlan"),
    ],
    "QuestionnaireResponse": [
        _based_on("QuestionnaireResponse"),
        *_subject_pair("QuestionnaireResponse"),
        _status("QuestionnaireResponse"),
        uri("questionnaire", "QuestionnaireResponse.questionnaire", "questionnaire"),
    ],
    "Provenance": [
        reference("target", "Provenance.target", "target"),
        date("recorded", "Provenance.recorded", "recorded"),
    ],
    "AuditEvent": [
        date("date", "AuditEvent.recorded", "recorded"),
        reference("entity", "AuditEvent.entity.what", "entity.what"),
        reference("agent", "AuditEvent.agent.who", "agent.who"),
        token("type", "AuditEvent.type", "type"),
    ],
}

_WITHOUT_IDENTIFIER: Final = frozenset({"Provenance", "AuditEvent"})

RESOURCE_TYPES: Final[tuple[str, ...]] = tuple(sorted(_SPECIFIC))

SEARCH_PARAMS: Final[Mapping[str, Mapping[str, SearchParamDef]]] = {
    rtype: {
        p.name: p for p in [*_common(rtype, rtype not in _WITHOUT_IDENTIFIER), *specific]
    }
    for rtype, specific in _SPECIFIC.items()
}

@cache
def chain_targets(resource_type: str, name: str, chained: str) -> tuple[str, ...]:
    """The stored types a chain `name.chained` on `resource_type` searches: every type
    with a search parameter `chained` (references stored before target types were
    checked on write, `profiles/reference_targets.py`, may name any of them), those the
    reference may point at first (the R4B definitions' target types, narrowed by
    `.where(resolve() is X)`), so that a fault in the chained value is reported under
    one of them. Empty when `name` is not a reference parameter."""
    definition = SEARCH_PARAMS.get(resource_type, {}).get(name)
    if definition is None or definition.type != "reference":
        return ()
    listed: set[str] = set()
    for path in definition.paths:
        targets = reference_targets(resource_type, path)
        listed |= set(RESOURCE_TYPES) if targets is None else targets
    if definition.only:
        listed &= definition.only
    having = [t for t in RESOURCE_TYPES if chained in SEARCH_PARAMS[t]]
    if definition.only:  # `patient`: the index holds only references to those types
        having = [t for t in having if t in definition.only]
    return tuple(sorted(having, key=lambda t: t not in listed))


def steps_of(definition: SearchParamDef) -> tuple[Step, ...]:
    """The extraction steps of one parameter, one per JSON path (none for column params)."""
    each = definition.each
    if not definition.indexed or each is None:
        return ()
    return tuple((definition.name, path[0], path[1:], each) for path in definition.paths)


_PLANS: Final[dict[str, tuple[Step, ...]]] = {
    rtype: tuple(step for p in params.values() for step in steps_of(p))
    for rtype, params in SEARCH_PARAMS.items()
}


def index_values(content: dict[str, Any]) -> list[IndexValue]:
    """Every search-index value of a resource of a registered type ([] for others)."""
    return indexing.extract(content, _PLANS.get(content["resourceType"], ()))
