"""``python -m paperlib``: the command line (see :mod:`paperlib.cli`)."""
import sys

from paperlib.cli import main

if __name__ == "__main__":
    sys.exit(main())
