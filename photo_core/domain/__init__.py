"""The pure domain: errors, outcomes, naming rules, API dialects, retry policy and deadlines.

No I/O and no import of anything above it (see docs/architecture.md)."""
