"""Any server sends on any channel: the transports from the shared credentials file (channels.outgoing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.delivery.transports import TelegramTransport, TwilioTransport
from bot.wiring.settings import Settings, SettingsError
from channels.outgoing import shared_transports
from scripts.fake_apis import SMS_FROM, TELEGRAM_SECRET, TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN

CREDENTIALS = """
channels.rest.RestChannel:
channels.telegram.TelegramChannel:
  token: ${TELEGRAM_TOKEN}
  webhook_secret: ${TELEGRAM_WEBHOOK_SECRET}
channels.twilio.SmsChannel:
  account_sid: ${TWILIO_ACCOUNT_SID}
  auth_token: ${TWILIO_AUTH_TOKEN}
  from: ${TWILIO_SMS_FROM}
  public_url: ${PUBLIC_URL}
channels.twilio.WhatsAppChannel:
  account_sid: ${TWILIO_ACCOUNT_SID}
  auth_token: ${TWILIO_AUTH_TOKEN}
  from: ${TWILIO_WHATSAPP_FROM}
  public_url: ${PUBLIC_URL}
"""
ENV = {
    "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
    "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
    "TWILIO_ACCOUNT_SID": TWILIO_SID,
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "TWILIO_SMS_FROM": SMS_FROM,
    "PUBLIC_URL": "https://bot.example.org",
}


def settings(tmp_path: Path, text: str, env: dict[str, str]) -> Settings:
    path = tmp_path / "credentials.yml"
    path.write_text(text, encoding="utf-8")
    return Settings.from_environ({**env, "HELPLINE_CREDENTIALS": str(path)})


def test_every_configured_channel_gets_a_transport_even_one_this_server_does_not_run(tmp_path: Path) -> None:
    transports = shared_transports(settings(tmp_path, CREDENTIALS, ENV))
    assert set(transports) == {"telegram", "sms"}  # WhatsApp's sender number is not set: not configured
    assert isinstance(transports["telegram"], TelegramTransport)
    assert isinstance(transports["sms"], TwilioTransport)


def test_the_channels_this_server_runs_keep_their_own_transport(tmp_path: Path) -> None:
    assert set(shared_transports(settings(tmp_path, CREDENTIALS, ENV), skip=frozenset({"telegram"}))) == {"sms"}


def test_nothing_configured_gives_no_transport_and_a_missing_file_is_named(tmp_path: Path) -> None:
    assert shared_transports(settings(tmp_path, CREDENTIALS, {})) == {}
    with pytest.raises(SettingsError, match="HELPLINE_CREDENTIALS names .*none.yml, which is not a file"):
        Settings.from_environ({"HELPLINE_CREDENTIALS": str(tmp_path / "none.yml")})


def test_a_malformed_shared_file_is_named_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="credentials.yml: not valid YAML"):
        shared_transports(settings(tmp_path, "channels.telegram.TelegramChannel: [unclosed", ENV))


def test_a_malformed_secret_stops_start_up_naming_its_variable(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="TELEGRAM_TOKEN"):
        shared_transports(settings(tmp_path, CREDENTIALS, {**ENV, "TELEGRAM_TOKEN": "not-a-token"}))
