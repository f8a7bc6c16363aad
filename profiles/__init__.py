"""The chiroref FHIR profile package: definitions, validation, scoring, builders. No I/O
beyond reading its own packaged definition files (and `validate_file`'s one file)."""

from profiles.issues import Issue, to_operation_outcome
from profiles.package import default_profiles, definition, supported_profiles
from profiles.validate import validate_file, validate_resource

__all__ = [
    "Issue",
    "default_profiles",
    "definition",
    "supported_profiles",
    "to_operation_outcome",
    "validate_file",
    "validate_resource",
]
