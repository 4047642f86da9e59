"""``python -m photo_core``: the photo-sync command line (see :mod:`photo_core.entrypoints.cli`)."""

from photo_core.entrypoints.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
