"""``python -m bot.wiring settings``: the README's configuration table, from the settings themselves."""

import sys

from bot.wiring.settings import markdown_table

if sys.argv[1:] != ["settings"]:
    print("usage: python -m bot.wiring settings", file=sys.stderr)
    sys.exit(2)
print(markdown_table())
