"""Validation issues and their OperationOutcome form.

An `Issue` is one finding with its FHIRPath `expression`; validation returns a list of
them and never raises. `to_operation_outcome` is the only place that turns issues into
FHIR JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning", "information"]


@dataclass(frozen=True, slots=True)
class Issue:
    severity: Severity
    code: str  # OperationOutcome issue type: required, value, code-invalid, invariant, ...
    expression: str | None  # FHIRPath of the fault, e.g. "ServiceRequest.subject"
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")

    def to_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.message,
        }
        if self.expression:
            out["expression"] = [self.expression]
        return out


def errors(issues: Iterable[Issue]) -> list[Issue]:
    return [i for i in issues if i.is_error]


def to_operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    found = [i.to_fhir() for i in issues]
    if not found:
        found = [{"severity": "information", "code": "informational", "diagnostics": "All OK"}]
    return {"resourceType": "OperationOutcome", "issue": found}


def rebase(issues: Iterable[Issue], old_root: str, new_root: str) -> list[Issue]:
    """Re-root expressions, e.g. 'Patient.name' -> 'Bundle.entry[2].resource.name'."""
    out = []
    for i in issues:
        expr = i.expression
        if expr is not None and (expr == old_root or expr.startswith(old_root + ".")):
            expr = new_root + expr[len(old_root):]
        out.append(Issue(i.severity, i.code, expr, i.message))
    return out
