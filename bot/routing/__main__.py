"""``python -m bot.routing``: the routing table's command line (bot.routing.cli)."""

import sys

from bot.routing.cli import main

sys.exit(main())
