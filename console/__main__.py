"""``python -m console``: serve the operator console."""

import sys

from console.app import main

sys.exit(main())
