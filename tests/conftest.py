"""Shared fixtures: the real bot (action server + Rasa server with our channels) on loopback ports."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from bot import PROJECT_ROOT
from scripts.local_bot import MODEL, RunningBot, running_bot
from tests.fakes import TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN, FakeTelegram, FakeTwilio

TELEGRAM_SECRET = "test-webhook-secret-0123456789"
PUBLIC_URL = "https://bot.example.org"
SMS_FROM, WHATSAPP_FROM = "+15005550006", "+14155238886"


@pytest.fixture(scope="session")
def model() -> Path:
    """The trained model, trained first if config, domain or data changed."""
    subprocess.run([str(PROJECT_ROOT / "scripts" / "train.sh")], check=True, cwd=PROJECT_ROOT)
    return MODEL


@pytest.fixture(scope="session")
def telegram_api() -> Iterator[FakeTelegram]:
    api = FakeTelegram()
    yield api
    api.close()


@pytest.fixture(scope="session")
def twilio_api() -> Iterator[FakeTwilio]:
    api = FakeTwilio()
    yield api
    api.close()


def channel_credentials(telegram_api: FakeTelegram, twilio_api: FakeTwilio, timeout_s: float = 5) -> str:
    """Every channel, talking to the fake APIs, as credentials.yml would configure them."""
    twilio = f"""  account_sid: "{TWILIO_SID}"
  auth_token: "{TWILIO_TOKEN}"
  public_url: "{PUBLIC_URL}"
  api_base_url: "{twilio_api.url}"
  reply_timeout_s: {timeout_s}
"""
    return f"""channels.rest.RestChannel:
channels.telegram.TelegramChannel:
  token: "{TELEGRAM_TOKEN}"
  webhook_secret: "{TELEGRAM_SECRET}"
  api_base_url: "{telegram_api.url}"
  reply_timeout_s: {timeout_s}
channels.twilio.SmsChannel:
  from: "{SMS_FROM}"
{twilio}channels.twilio.WhatsAppChannel:
  from: "{WHATSAPP_FROM}"
{twilio}"""


CHANNEL_ENV = {"HELPLINE_SENDER_KEY": secrets.token_hex(32), "REDIS_URL": "redis://127.0.0.1:6379/0"}


@pytest.fixture(scope="session")
def bot(model: Path, tmp_path_factory: pytest.TempPathFactory, telegram_api: FakeTelegram, twilio_api: FakeTwilio) -> Iterator[RunningBot]:
    """The whole bot as it runs in deployment (every channel, Redis), on free loopback ports."""
    with running_bot(tmp_path_factory.mktemp("bot"), model, channel_credentials(telegram_api, twilio_api), CHANNEL_ENV) as started:
        yield started
