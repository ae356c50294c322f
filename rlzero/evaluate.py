"""``python -m rlzero.evaluate``: the command lives in :mod:`rlzero.evaluation` (see its ``main``).

This module only makes the command name match ``rlzero.train``; ``rlzero.evaluate`` the function is
what ``import rlzero`` gives you.
"""

import sys

from rlzero.evaluation import main

if __name__ == "__main__":
    sys.exit(main())
