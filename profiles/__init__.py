"""The chiroref FHIR profile package: definitions, validation, scoring, builders. No I/O
beyond reading its own packaged definition files (and `validate_file`'s one file)."""

from profiles.indications import lacks_indication
from profiles.issues import Issue, to_operation_outcome
from profiles.package import default_profiles, definition, supported_profiles
from profiles.questionnaires import UnscorableResponse, score_questionnaire_response
from profiles.validate import validate_file, validate_resource

__all__ = [
    "Issue",
    "UnscorableResponse",
    "default_profiles",
    "definition",
    "lacks_indication",
    "score_questionnaire_response",
    "supported_profiles",
    "to_operation_outcome",
    "validate_file",
    "validate_resource",
]
