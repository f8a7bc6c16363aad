"""The FHIR REST layer: routes (rest.py), Bundles (bundles.py, transaction.py), the
CapabilityStatement (metadata.py), errors as OperationOutcomes (outcome.py). The app
factory is service.app.create_app."""
