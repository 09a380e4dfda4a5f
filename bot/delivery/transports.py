"""How one message reaches a child on each channel, and what each provider's answer means.

A transport finds the child's address from the hashed sender id (bot.storage.stores.AddressBook),
sends once, and says what came of it (bot.delivery.attempt): sent, worth retrying, or refused for
good with the counsellor's reason. Any error it does not recognise is left to the sender, which
retries it. The channels build the transports from their own credentials (the same on every
server), so any server sends on any channel.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Optional, Protocol, Sequence

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from twilio.base.exceptions import TwilioRestException

from bot.delivery.attempt import (
    BLOCKED,
    NO_ADDRESS,
    TELEGRAM_GONE,
    TELEGRAM_REFUSED,
    TWILIO_PERMANENT,
    Attempt,
    twilio_reason,
)
from bot.delivery.outbox import Button, State
from bot.storage.stores import AddressBook, Inbox


class Transport(Protocol):
    async def send(self, conversation: str, text: str, buttons: Sequence[Button]) -> Attempt:
        """One attempt to send ``text`` (and ``buttons``) to the child of ``conversation``."""


def keyboard(buttons: Sequence[Button]) -> Optional[InlineKeyboardMarkup]:
    """Telegram's buttons under a message, one per row; a payload is cut to Telegram's 64 bytes."""
    if not buttons:
        return None
    rows = [[InlineKeyboardButton(title, callback_data=payload[:64])] for title, payload in buttons]
    return InlineKeyboardMarkup(rows)


def telegram_attempt(error: TelegramError) -> Attempt:
    """What a Bot API error means for the message: wait as asked, give up, or try again."""
    said = str(error).lower()
    if isinstance(error, RetryAfter):
        wait = error.retry_after
        seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
        return Attempt.retry("Telegram asked us to wait", seconds)
    if isinstance(error, Forbidden):
        gone = TELEGRAM_GONE if "deactivated" in said else TELEGRAM_REFUSED
        return Attempt.refused(BLOCKED if "blocked" in said else gone)
    if isinstance(error, BadRequest):
        return Attempt.refused(TELEGRAM_GONE if "not found" in said else TELEGRAM_REFUSED)
    return Attempt.retry(f"Telegram could not be reached ({type(error).__name__})")


class TelegramTransport:
    def __init__(self, bot: Bot, addresses: AddressBook) -> None:
        self._bot, self._addresses = bot, addresses

    async def send(self, conversation: str, text: str, buttons: Sequence[Button]) -> Attempt:
        chat = await self._addresses.lookup(conversation)
        if chat is None:
            return Attempt.refused(NO_ADDRESS)
        try:
            await self._bot.send_message(chat_id=int(chat), text=text, reply_markup=keyboard(buttons))
        except TelegramError as error:
            return telegram_attempt(error)
        return Attempt.sent()  # Telegram sends no delivery reports to bots: sent is all we learn


def twilio_attempt(error: TwilioRestException, channel: str) -> Attempt:
    """A Twilio API error: a known permanent code or another 4xx refuses the message; throttling,
    a server error or refused credentials (an operator can fix those) are tried again."""
    status = int(error.status or 0)
    code = int(error.code) if isinstance(error.code, int) or str(error.code or "").isdigit() else None
    if code in TWILIO_PERMANENT or (400 <= status < 500 and status not in (401, 429)):
        return Attempt.refused(twilio_reason(code, channel))
    return Attempt.retry(f"Twilio answered HTTP {status}")


class TwilioTransport:
    """SMS or WhatsApp through Twilio's REST API, asking for delivery reports at ``status_url``."""

    def __init__(
        self,
        client: Callable[[], Any],
        sender: str,
        address_prefix: str,
        parts: Callable[[str], list[str]],
        status_url: str,
        addresses: AddressBook,
        channel: str,
    ) -> None:
        """``client``: Twilio's client, made on first use in the server's event loop."""
        self._client, self._sender, self._prefix = client, sender, address_prefix
        self._parts, self._status_url, self._addresses, self._channel = parts, status_url, addresses, channel

    async def send(self, conversation: str, text: str, buttons: Sequence[Button]) -> Attempt:
        # Buttons are already written into the text as numbered lines ("1. ..."): the child answers with the number.
        address = await self._addresses.lookup(conversation)
        if address is None:
            return Attempt.refused(NO_ADDRESS)
        receipts = []
        try:
            for part in self._parts(text):
                made = await self._client().messages.create_async(
                    to=self._prefix + address, from_=self._sender, body=part, status_callback=self._status_url
                )
                receipts.append(str(made.sid))
        except TwilioRestException as error:
            return twilio_attempt(error, self._channel)
        return Attempt.sent(*receipts)


def twilio_report(form: dict[str, str], channel: str) -> Optional[tuple[State, str]]:
    """What a status callback says of a message: delivered (or read), failed with the reason from
    its ErrorCode, or None while it is still on its way (queued, sent...)."""
    status = form.get("MessageStatus", "")
    if status in ("delivered", "read"):
        return State.DELIVERED, ""
    if status in ("undelivered", "failed"):
        code = form.get("ErrorCode", "")
        return State.FAILED, twilio_reason(int(code) if code.isdigit() else None, channel)
    return None


class InboxTransport:
    """The web chat: the message waits in the child's inbox until their page fetches it."""

    def __init__(self, inbox: Inbox, ttl_s: int) -> None:
        self._inbox, self._ttl_s = inbox, ttl_s

    async def send(self, conversation: str, text: str, buttons: Sequence[Button]) -> Attempt:
        shown = [{"title": title, "payload": payload} for title, payload in buttons]
        await self._inbox.put(conversation, text, shown, self._ttl_s)
        return Attempt.sent()
