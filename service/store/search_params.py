"""The search-parameter registry: which parameters each stored type supports.

`SEARCH_PARAMS[type][name]` gives the parameter's FHIR type, its FHIRPath `expression`
(for the CapabilityStatement) and a fast extractor (plain Python walkers, indexing.py)
used at write time. `_id` and `_lastUpdated` are columns of `resources`, not index rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from service.store import indexing
from service.store.indexing import Extractor, IndexValue

ParamType = Literal["token", "reference", "date", "string", "uri"]


@dataclass(frozen=True, slots=True)
class SearchParamDef:
    name: str
    type: ParamType
    expression: str  # FHIRPath, as published in the CapabilityStatement
    extract: Extractor  # (param name, resource JSON) -> index values
    indexed: bool = True  # False: a column of `resources` (_id, _lastUpdated)


def _none(param: str, content: dict[str, Any]) -> list[IndexValue]:
    return []


def _walker(
    paths: tuple[str, ...], each: Callable[[str, Any], list[IndexValue]]
) -> Extractor:
    split = tuple(tuple(p.split(".")) for p in paths)

    def extract(param: str, content: dict[str, Any]) -> list[IndexValue]:
        return [
            value
            for path in split
            for node in indexing.walk(content, path)
            for value in each(param, node)
        ]

    return extract


def token(name: str, expression: str, *paths: str) -> SearchParamDef:
    return SearchParamDef(name, "token", expression, _walker(paths, indexing.tokens))


def reference(name: str, expression: str, *paths: str, only: str = "") -> SearchParamDef:
    types = frozenset(only.split()) if only else frozenset()

    def each(param: str, node: Any) -> list[IndexValue]:
        return indexing.references(param, node, types)

    return SearchParamDef(name, "reference", expression, _walker(paths, each))


def date(name: str, expression: str, *paths: str) -> SearchParamDef:
    return SearchParamDef(name, "date", expression, _walker(paths, indexing.dates))


def string(name: str, expression: str, *paths: str) -> SearchParamDef:
    return SearchParamDef(name, "string", expression, _walker(paths, indexing.strings))


def uri(name: str, expression: str, *paths: str) -> SearchParamDef:
    return SearchParamDef(name, "uri", expression, _walker(paths, indexing.uris))


def _common(rtype: str, has_identifier: bool) -> list[SearchParamDef]:
    params = [
        SearchParamDef("_id", "token", "Resource.id", _none, indexed=False),
        SearchParamDef("_lastUpdated", "date", "Resource.meta.lastUpdated", _none, indexed=False),
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

_EXTRACTORS: Final[dict[str, list[tuple[str, Extractor]]]] = {
    rtype: [(p.name, p.extract) for p in params.values() if p.indexed]
    for rtype, params in SEARCH_PARAMS.items()
}


def index_values(content: dict[str, Any]) -> list[IndexValue]:
    """Every search-index value of a resource of a registered type ([] for others)."""
    return indexing.extract_all(content, _EXTRACTORS.get(content["resourceType"], []))
