"""The error tree. Each HTTP status has one exception class carrying issues; the API
renders every one as an OperationOutcome in one place (service/api/outcome.py)."""

from __future__ import annotations

from typing import ClassVar

from profiles.issues import Issue


class FhirError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "invalid"

    def __init__(self, *issues: Issue) -> None:
        super().__init__("; ".join(i.message for i in issues))
        self.issues: tuple[Issue, ...] = issues

    @classmethod
    def of(cls, message: str, expression: str | None = None, code: str | None = None) -> FhirError:
        return cls(Issue("error", code or cls.default_code, expression, message))


class BadRequest(FhirError):
    status = 400


class Forbidden(FhirError):
    status = 403
    default_code = "forbidden"


class NotFound(FhirError):
    status = 404
    default_code = "not-found"


class MethodNotAllowed(FhirError):
    status = 405
    default_code = "not-supported"


class NotAcceptable(FhirError):
    status = 406
    default_code = "not-supported"


class Conflict(FhirError):
    status = 409
    default_code = "conflict"


class Gone(FhirError):
    status = 410
    default_code = "deleted"


class PreconditionFailed(FhirError):
    status = 412
    default_code = "conflict"


class PayloadTooLarge(FhirError):
    status = 413
    default_code = "too-long"


class UnsupportedMediaType(FhirError):
    status = 415
    default_code = "not-supported"


class Unprocessable(FhirError):
    status = 422
    default_code = "processing"


class IllegalTransition(Conflict):
    default_code = "business-rule"
