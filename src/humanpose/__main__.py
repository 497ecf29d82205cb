"""``python -m humanpose`` = the ``humanpose`` command."""

import sys

from humanpose.cli import main

sys.exit(main())
