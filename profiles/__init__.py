"""The chiroref FHIR profile package: definitions, validation, scoring, builders. No I/O
beyond reading its own packaged definition files."""
