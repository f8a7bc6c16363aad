"""The chiroref gateway: FHIR REST, store and workflow."""
