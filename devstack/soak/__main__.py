"""``python -m devstack.soak``: see :mod:`devstack.soak`."""

import sys

from devstack.soak import main

sys.exit(main())
