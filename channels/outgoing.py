"""Every channel's transport from the shared credentials, so any server sends on any channel.

The outbox's messages (bot replies, counsellors' replies, notices) are sent by whichever server's
sender holds them, not by the server the child wrote to. A server whose own Rasa ``--credentials``
leaves a channel out (say, a server for web chat only) must still send that channel's messages, or
they would fail as "no server here sends on this channel". So each server also reads the shared
credentials file (``HELPLINE_CREDENTIALS``, with the same environment as every server) and builds a
transport for every channel configured there: the channels' own classes read and check the
section, exactly as when Rasa starts them.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

import yaml

from bot.delivery.transports import Transport
from bot.wiring.settings import Settings
from channels.active_credentials import active, substituted

# The channels whose messages go through the outbox: their name, and their class in credentials.yml.
OUTGOING = {
    "telegram": "channels.telegram.TelegramChannel",
    "sms": "channels.twilio.SmsChannel",
    "whatsapp": "channels.twilio.WhatsAppChannel",
}


def shared_transports(settings: Settings, skip: frozenset[str] = frozenset()) -> dict[str, Transport]:
    """A transport for each channel of the shared credentials file whose variables are set (but
    those in ``skip``, which this server already runs). A missing file gives none; a malformed one
    raises, naming it, at start-up."""
    path = settings.credentials_file
    if not path.is_file():
        return {}
    try:
        credentials = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(credentials, dict):
        raise ValueError(f"{path}: must map each channel's class to its settings")
    return _built(active(credentials, settings.environment)[0], settings.environment, skip)


def _built(sections: Mapping[str, Any], environ: Mapping[str, str], skip: frozenset[str]) -> dict[str, Transport]:
    transports: dict[str, Transport] = {}
    for name, dotted in OUTGOING.items():
        if name in skip or dotted not in sections:
            continue
        module, _, class_name = dotted.rpartition(".")
        channel_class = getattr(importlib.import_module(module), class_name)
        transports[name] = channel_class.from_credentials(substituted(sections[dotted], environ)).transport()
    return transports
