"""``python -m organism STEP``: the organism's command line (see :mod:`organism.train_organism`)."""
import sys

from organism.train_organism import main

sys.exit(main())
