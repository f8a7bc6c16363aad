"""Packaged reference data for the workflow (see README.md in this folder)."""
