"""python3 -m tasky_backup ACTION: see cli.py."""

import sys

from .cli import main

sys.exit(main())
