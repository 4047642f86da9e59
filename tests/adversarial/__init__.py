"""Adversarial inputs: catalogues of bad and tricky files and blob names, and fuzzing.

The catalogues (``file_catalogue``, ``name_catalogue``) are the spec: each entry says what the
input is and what photo-sync must do with it. ``docs/adversarial.md`` lists both as tables.
"""
