"""The top of the core: settings read once from the environment (the only place that reads it),
and the services each process builds once from them, on one Redis pool. Channels, the custom
action, the console and the command lines start here.
"""

from bot.wiring.services import Services, services
from bot.wiring.settings import Settings, SettingsError

__all__ = ["Services", "Settings", "SettingsError", "services"]
