"""Build-time tools for the profile package (not imported at run time)."""
