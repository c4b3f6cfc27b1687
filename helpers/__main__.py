"""``python -m helpers``: the ``lqface`` command (:mod:`helpers.cli`)."""

import sys

from helpers.cli import main

sys.exit(main())
