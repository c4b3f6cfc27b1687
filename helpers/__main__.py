"""``python -m helpers``: try a model on your own photos (see :mod:`helpers.tryit.cli`)."""

import sys

from helpers.tryit.cli import main

sys.exit(main())
