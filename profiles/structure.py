"""The structural check: fhir.resources R4B models, with pydantic errors as Issues.

R4B models read R4 JSON for every type chiroref stores (the types and elements used
are unchanged between R4 4.0.1 and R4B 4.3.0). fhir.resources does not check codes
(ServiceRequest.status = 'foo' passes) nor most cardinalities of complex elements;
those are the rule trees' job.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from profiles.issues import Issue

_REQUIRED: Final = ("missing", "model_field_validation.missing")
_UNKNOWN: Final = ("extra_forbidden",)
_NAMES: Final = {"resource_type": "resourceType"}


@cache
def model_class(resource_type: str) -> Any:
    """The R4B model class, or None for a name that is not a FHIR resource type."""
    try:
        cls = get_fhir_model_class(resource_type)
    except (ValueError, KeyError):
        return None
    return cls if cls.__name__ == resource_type else None


def fhirpath(root: str, loc: tuple[int | str, ...]) -> str:
    """('identifier', 1, 'value') -> 'Root.identifier[1].value'; '_x' -> 'x'."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = _NAMES.get(part, part).lstrip("_").removesuffix("__ext")
            out += f".{name.removesuffix('_fhir')}"
    return out


def code_of(error_type: str) -> str:
    if error_type in _REQUIRED:
        return "required"
    if error_type in _UNKNOWN:
        return "structure"
    return "value"


def message_of(error: Any) -> str:
    if error["type"] in _UNKNOWN:
        return "unknown element"
    return str(error["msg"]).split("\n")[0]


def check_resource_type(resource: Any) -> Issue | None:
    if not isinstance(resource, dict):
        return Issue("error", "structure", None, "a resource must be a JSON object")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return Issue("error", "required", "Resource.resourceType", "resourceType is missing")
    if model_class(rtype) is None:
        return Issue("error", "structure", "Resource.resourceType",
                     f"unknown resourceType {rtype!r}")
    return None


def check_structure(resource: dict[str, Any], root: str) -> list[Issue]:
    """Structural issues of a resource whose resourceType is known (see check_resource_type)."""
    try:
        model_class(resource["resourceType"]).model_validate(resource)
    except ValidationError as exc:
        return [Issue("error", code_of(e["type"]), fhirpath(root, e["loc"]), message_of(e))
                for e in exc.errors()]
    except Exception as exc:  # fhir_core raises KeyError etc. for some malformed input
        return [Issue("error", "structure", root, f"malformed resource ({type(exc).__name__})")]
    return []
