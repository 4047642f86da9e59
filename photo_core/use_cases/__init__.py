"""The use cases (sync a drop, claims, deletions, reconcile, lookups, reports) and the ports they
need. They see storage and the photo API only through ports; no HTTP or storage library here."""
