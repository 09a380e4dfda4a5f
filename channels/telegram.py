"""Telegram, on python-telegram-bot: a verified webhook, exactly-once handling, and replies that
also work when the server starts the conversation (a counsellor's answer).

Rasa's own Telegram channel never checks the webhook secret and breaks on server-initiated
messages. Here every update must carry the secret set with ``set_webhook`` (compared in constant
time, else 403), is handled once (dedupe by ``update_id``), off the request, and answered even if
Rasa fails. Rasa only ever sees a keyed hash of the chat id.

    python -m channels.telegram set-webhook   # registers PUBLIC_URL/webhooks/telegram/webhook
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from typing import Any, Awaitable, Callable, Optional, Sequence

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, MaybeInaccessibleMessage, Update
from telegram.error import TelegramError

from bot.conversation.dialogue import BotMessage
from bot.conversation.needs import COMMANDS
from bot.delivery.transports import TelegramTransport, keyboard
from bot.language.input_text import clean
from bot.privacy.secret_compare import same_secret
from bot.privacy.sender_ids import MissingSecret
from bot.routing.hints import deep_link_hints
from bot.storage.inbound import CLAIM
from bot.storage.stores import STORE_FAULTS
from bot.wiring.faults import STORE_DOWN
from bot.wiring.json_body import json_body
from bot.wiring.settings import Settings
from channels.safe_turn import DEFAULT_TIMEOUT_S, QueuedOutput, answer
from channels.services import ChannelServices, services
from channels.webhook import webhook_blueprint

logger = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and Bot API URLs contain the bot's token: never.
logging.getLogger("httpx").setLevel(logging.WARNING)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")  # Telegram allows 1-256 of these; we want 16+
_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\w+)?(?:\s+(.*))?$", re.S)
# Parts of a message that are not words: we never download or keep them.
_MEDIA = ("photo", "sticker", "voice", "video", "video_note", "audio", "document", "animation", "contact", "location")


def read_secret(value: Any, variable: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise MissingSecret(f"{variable} (used in credentials.yml) is missing or malformed")
    return value


class TelegramOutput(QueuedOutput):
    """A turn's replies to a chat, through the child's outbox (channels.safe_turn.QueuedOutput);
    sent at once to the chat (known for replies, else looked up by the hashed id) when they can't be."""

    def __init__(self, bot: Bot, services: ChannelServices, chat_id: Optional[str] = None) -> None:
        super().__init__("telegram", services.queue_replies)
        self._bot, self._services, self._chat_id = bot, services, chat_id

    @classmethod
    def name(cls) -> str:
        return "telegram"

    async def send_now(self, recipient_id: str, text: str, buttons: Sequence[dict[str, Any]]) -> bool:
        chat_id = self._chat_id or await self._services.stores.addresses.lookup(recipient_id)
        if chat_id is None:
            logger.warning("no Telegram chat known for a recipient (expired or deleted); message not sent")
            return False
        markup = keyboard([(str(b["title"]), str(b["payload"])) for b in buttons])
        await self._bot.send_message(chat_id=int(chat_id), text=text, reply_markup=markup)
        return True


class TelegramChannel(InputChannel):
    """``POST /webhooks/telegram/webhook`` from Telegram's Bot API."""

    def __init__(
        self,
        token: str,
        webhook_secret: str,
        api_base_url: Optional[str] = None,
        reply_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.services = services()
        base_url = f"{api_base_url.rstrip('/')}/bot" if api_base_url else "https://api.telegram.org/bot"
        self.bot = Bot(token, base_url=base_url)
        self._secret = webhook_secret.encode()
        self._timeout_s = reply_timeout_s

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> "TelegramChannel":
        credentials = credentials or {}
        return cls(
            token=read_secret(credentials.get("token"), "TELEGRAM_TOKEN", _TOKEN),
            webhook_secret=read_secret(credentials.get("webhook_secret"), "TELEGRAM_WEBHOOK_SECRET", _SECRET),
            api_base_url=credentials.get("api_base_url") or None,
            reply_timeout_s=float(credentials.get("reply_timeout_s") or DEFAULT_TIMEOUT_S),
        )

    def get_output_channel(self) -> OutputChannel:
        return TelegramOutput(self.bot, self.services)

    def transport(self) -> TelegramTransport:
        """How the outbox's messages reach a chat (bot.delivery)."""
        return TelegramTransport(self.bot, self.services.stores.addresses)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = webhook_blueprint(self)

        async def handle(payload: dict[str, Any]) -> None:
            await self._handle(payload, on_new_message)

        self.services.attach(webhook, self.name(), self.transport(), handle)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not same_secret(request.headers.get(SECRET_HEADER), self._secret):
                return response.json({"error": "forbidden"}, status=403)
            try:
                payload = json_body(request.body)
            except ValueError:
                payload = None
            update = read_update(payload, self.bot)
            if update is None:
                return response.json({"error": "body must be a Telegram Update (JSON object)"}, status=400)
            chat = update.effective_chat
            if chat is None:  # inline queries, polls...: nothing we answer
                return response.json({"ok": True})
            if update.callback_query:
                asyncio.get_running_loop().create_task(self._acknowledge(update.callback_query.id))
            sender = self.services.sender_ids.of("telegram", str(chat.id))
            turn = f"telegram:{sender}:{update.update_id}"
            _, text, language = _read(update) or (None, None, None)
            urgent = self.services.urgent(text)
            if urgent:
                self.services.knock(sender, self.name(), *self._words(text, language), turn)
            try:
                fresh = await self.services.core.journal.record(
                    sender,
                    turn,
                    self.services.dialogue.retention.dedupe_s,
                    {"channel": self.name(), "update": _without_names(payload), "urgent": urgent},
                )
            except STORE_FAULTS as error:  # not durable: answer now, in the webhook's own response
                self.services.faults.count(STORE_DOWN, error, "the Telegram webhook")
                return response.json(self._fail_safe(update))
            if fresh:
                self.services.accept(sender)
            return response.json({"ok": True})

        return webhook

    def _fail_safe(self, update: Update) -> dict[str, Any]:
        """The numbers as a Bot API call in the webhook's answer (Telegram makes it), which needs
        neither our stores nor our outgoing connection; nothing for an update with no one to answer."""
        read = _read(update)
        if read is None:
            return {"ok": True}
        message, text, language = read
        cleaned, metadata = self._words(text, language)
        sender = self.services.sender_ids.of("telegram", str(message.chat.id))
        said = self.services.fallback(sender, cleaned, metadata)
        return {"method": "sendMessage", "chat_id": message.chat.id, "text": "\n\n".join(m.text for m in said)}

    def _words(self, text: Optional[str], language: Optional[str]) -> tuple[str, dict[str, Any]]:
        """(cleaned text, metadata) of a message: one of our commands (``/start KE_sw`` from a
        helpline's deep link, ``/delete``) becomes the command and its hints, with no text."""
        metadata: dict[str, Any] = {"channel": "telegram"}
        claim = CLAIM.get()
        if claim is not None:  # the same each time this update is handled: side effects keyed by it happen once
            metadata["turn"] = claim.key
        if language:
            metadata["language"] = language
        command = _COMMAND.match(text or "")
        if command and command.group(1).lower() in COMMANDS:
            metadata["command"] = command.group(1).lower()
            metadata.update(deep_link_hints(command.group(2) or "", self.services.dialogue.registry.codes))
            text = ""
        return clean(text), metadata

    async def _handle(self, payload: dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """One journalled update (bot.storage.inbound), in its conversation's order."""
        update = read_update(payload["update"], self.bot)
        if update is None:  # recorded before updates were checked as now: nothing to answer
            return
        if update.my_chat_member:
            member = update.my_chat_member
            if member.new_chat_member.status == "kicked":  # the child blocked the bot: forget their chat
                blocked = self.services.sender_ids.of("telegram", str(member.chat.id))
                await self.services.stores.addresses.forget(blocked)
            return
        read = _read(update)
        if read is None:
            return
        message, text, language = read
        chat_id = str(message.chat.id)
        sender = self.services.sender_ids.of("telegram", chat_id)
        await self._turn(on_new_message, message, sender, chat_id, text, language)

    async def _acknowledge(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as error:
            logger.info("callback query not acknowledged (%s)", type(error).__name__)

    async def _turn(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message: MaybeInaccessibleMessage,
        sender: str,
        chat_id: str,
        text: Optional[str],
        language: Optional[str],
    ) -> None:
        await self.services.remember(sender, chat_id)
        claim = CLAIM.get()
        for_child = await self.services.counsellor_has(sender, clean(text), claim.key if claim else "")
        if for_child is not None:  # a counsellor has this conversation: the bot stays out of it
            await TelegramOutput(self.bot, self.services, chat_id).send_messages(sender, for_child)
            return
        cleaned, metadata = self._words(text, language)
        before: list[BotMessage] = []
        if any(getattr(message, kind, None) for kind in _MEDIA):
            before += self.services.dialogue.only_words(metadata, alone=not text)
            if not text:  # nothing else to answer
                await TelegramOutput(self.bot, self.services, chat_id).send_messages(sender, before)
                return
        output = TelegramOutput(self.bot, self.services, chat_id)
        message = UserMessage(cleaned, output, sender, input_channel=self.name(), metadata=metadata)
        await answer(
            on_new_message,
            message,
            output,
            lambda: self.services.fallback(sender, cleaned, metadata),
            self._timeout_s,
            before,
            self.services.erase,
            faults=self.services.faults,
        )


def read_update(payload: Any, bot: Bot) -> Optional[Update]:
    """The Update in a webhook's body, or None when Telegram could not have sent it.

    python-telegram-bot raises whatever a malformed update makes it meet (TypeError, KeyError,
    ValueError; OverflowError or OSError for a date out of range: found by fuzzing, each a 500), and
    takes any part missing or of any type, which failed only later, when the bot answered: a chat
    id ``"x"`` (``int(chat_id)``), a message without its chat, a text or language code that is no
    string. So the parts the bot reads are read here, and must be what Telegram sends."""
    if not isinstance(payload, dict):
        return None
    try:
        update = Update.de_json(payload, bot)
        chat = update.effective_chat
        _, text, language = _read(update) or (None, None, None)
        member = update.my_chat_member
        status, member_chat = (member.new_chat_member.status, member.chat.id) if member else (None, 0)
    except Exception:  # noqa: BLE001 - whatever its parser raises, this is not an update
        return None
    if not all(_whole(id_) for id_ in (update.update_id, member_chat, chat.id if chat else 0)):
        return None
    if not all(part is None or isinstance(part, str) for part in (text, language, status)):
        return None
    return update


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_NAMES = ("first_name", "last_name", "username")


def _without_names(data: Any) -> Any:
    """An update as the journal keeps it until it is answered: the child's and chat's names blanked
    (python-telegram-bot needs a user's ``first_name``, so it stays, empty)."""
    if isinstance(data, list):
        return [_without_names(item) for item in data]
    if not isinstance(data, dict):
        return data
    return {key: "" if key in _NAMES else _without_names(value) for key, value in data.items()}


def _read(update: Update) -> Optional[tuple[MaybeInaccessibleMessage, Optional[str], Optional[str]]]:
    """(message, text, language code) of an update the bot answers: a private chat's message or
    button press; None for edits, channels and groups."""
    message, text, language = None, None, None
    if update.callback_query and update.callback_query.message:
        query = update.callback_query
        message, text, language = query.message, query.data or "", query.from_user.language_code
    elif update.message:
        message = update.message
        text = message.text if message.text is not None else message.caption
        language = message.from_user.language_code if message.from_user else None
    if message is None or message.chat.type != "private":
        return None
    return message, text, language


async def set_webhook(settings: Settings) -> str:
    """Register this server's webhook with Telegram, with the secret and the updates we handle."""
    token = read_secret(settings.secret("TELEGRAM_TOKEN"), "TELEGRAM_TOKEN", _TOKEN)
    secret = read_secret(settings.secret("TELEGRAM_WEBHOOK_SECRET"), "TELEGRAM_WEBHOOK_SECRET", _SECRET)
    public = settings.public_url
    if not public.startswith("https://"):
        raise MissingSecret("PUBLIC_URL must be the https:// address Telegram can reach, e.g. https://bot.example.org")
    base_url = settings.telegram_api_base_url
    url = f"{public.rstrip('/')}/webhooks/telegram/webhook"
    async with Bot(
        token, base_url=f"{base_url.rstrip('/')}/bot" if base_url else "https://api.telegram.org/bot"
    ) as bot:
        await bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    return url


if __name__ == "__main__":
    if sys.argv[1:] != ["set-webhook"]:
        print(
            "usage: python -m channels.telegram set-webhook"
            "  (reads TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_SECRET, PUBLIC_URL)"
        )
        sys.exit(2)
    try:
        print("webhook set:", asyncio.run(set_webhook(Settings.from_environ())))
    except (MissingSecret, TelegramError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
