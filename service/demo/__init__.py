"""The demo directory loaded by the embedded default (`CHIROREF_LOAD_DEMO`)."""
