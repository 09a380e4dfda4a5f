"""SMS and WhatsApp through Twilio: signed webhooks, exactly-once handling, non-blocking replies,
and delivery reports (``POST /webhooks/<sms|whatsapp>/status``, signed too) for the outbox.

Rasa's own Twilio channel never checks ``X-Twilio-Signature``, sends with a blocking call and
crashes on a message without ``Body``. Here each request must carry a valid signature computed on
the public URL from configuration (403 otherwise), is handled once (dedupe by ``MessageSid``), off
the request, and answered through Twilio's REST API with the async client, even if Rasa fails.
SMS replies stay within 3 segments each; WhatsApp media is never downloaded.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable, Optional, Sequence
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.conversation.sms import split
from bot.delivery.transports import TwilioTransport, twilio_report
from bot.language.input_text import clean
from bot.privacy.sender_ids import MissingSecret
from bot.routing.countries import from_phone
from bot.storage.inbound import CLAIM
from bot.storage.stores import STORE_FAULTS
from bot.wiring.faults import STORE_DOWN
from channels.safe_turn import DEFAULT_TIMEOUT_S, QueuedOutput
from channels.services import ChannelServices, services
from channels.webhook import webhook_blueprint

logger = logging.getLogger(__name__)
# twilio's HTTP clients log each request's body (numbers and text) at INFO: never.
for _name in ("twilio.http_client", "twilio.async_http_client"):
    logging.getLogger(_name).setLevel(logging.WARNING)

_SID = re.compile(r"^AC[0-9a-f]{32}$")
_TOKEN = re.compile(r"^[0-9a-zA-Z]{16,}$")
_FROM = re.compile(r"^\+[1-9][0-9]{6,14}\Z")  # ASCII digits; \Z: "$" would take a final newline
_SMS_SEGMENTS = 3
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# What the journal keeps of a webhook until it is answered (bot.storage.inbound): no name, no media URL.
_KEPT_FIELDS = ("MessageSid", "From", "Body", "NumMedia")


def _setting(credentials: dict[str, Any], key: str, variable: str, pattern: re.Pattern[str]) -> str:
    value = credentials.get(key)
    if not isinstance(value, str) or not pattern.match(value):
        raise MissingSecret(f"{variable} (used in credentials.yml) is missing or malformed")
    return value


class TwilioOutput(QueuedOutput):
    """A turn's replies, through the child's outbox (channels.safe_turn.QueuedOutput); sent at
    once through Twilio's REST API, without blocking the event loop, when they can't be."""

    def __init__(self, channel: "TwilioChannel", address: Optional[str] = None) -> None:
        super().__init__(channel.name(), channel.services.queue_replies)
        self._channel, self._address = channel, address

    @classmethod
    def name(cls) -> str:
        return "twilio"

    async def send_now(self, recipient_id: str, text: str, buttons: Sequence[dict[str, Any]]) -> bool:
        # Buttons are already written into the text as numbered lines ("1. ..."); the child
        # answers with the number, on SMS and WhatsApp alike.
        address = self._address or await self._channel.services.stores.addresses.lookup(recipient_id)
        if address is None:
            logger.warning(
                "no %s address known for a recipient (expired or deleted); message not sent", self._channel.name()
            )
            return False
        for part in self._channel.parts(text):
            await self._channel.client.messages.create_async(
                to=self._channel.address_prefix + address, from_=self._channel.sender, body=part
            )
        return True


class TwilioChannel(InputChannel):
    """Base of the SMS and WhatsApp channels: one Twilio account, two webhooks, two senders."""

    address_prefix = ""
    sender_variable = ""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        public_url: str,
        api_base_url: Optional[str] = None,
        reply_timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.services: ChannelServices = services()
        self._account = (account_sid, auth_token)
        self._api_base_url = api_base_url
        self._client: Optional[Client] = None
        self._validator = RequestValidator(auth_token)
        self.sender = self.address_prefix + sender
        self._webhook_url = f"{public_url.rstrip('/')}/webhooks/{self.name()}/webhook"
        self._status_url = f"{public_url.rstrip('/')}/webhooks/{self.name()}/status"  # Twilio's delivery reports
        self._timeout_s = reply_timeout_s

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> "TwilioChannel":
        credentials = credentials or {}
        public_url = credentials.get("public_url")
        if not isinstance(public_url, str) or not public_url.startswith(("https://", "http://")):
            raise MissingSecret(
                "PUBLIC_URL (used in credentials.yml) must be the address Twilio calls, e.g. https://bot.example.org"
            )
        return cls(
            account_sid=_setting(credentials, "account_sid", "TWILIO_ACCOUNT_SID", _SID),
            auth_token=_setting(credentials, "auth_token", "TWILIO_AUTH_TOKEN", _TOKEN),
            sender=_setting(credentials, "from", cls.sender_variable, _FROM),
            public_url=public_url,
            api_base_url=credentials.get("api_base_url") or None,
            reply_timeout_s=float(credentials.get("reply_timeout_s") or DEFAULT_TIMEOUT_S),
        )

    @property
    def client(self) -> Client:
        """Twilio's client with its aiohttp session, made on first use inside the server's event loop."""
        if self._client is None:
            self._client = Client(*self._account, http_client=AsyncTwilioHttpClient())
            if self._api_base_url:
                self._client.api.base_url = self._api_base_url.rstrip("/")
        return self._client

    def parts(self, text: str) -> list[str]:
        return [text]

    def get_output_channel(self) -> OutputChannel:
        return TwilioOutput(self)

    def transport(self) -> TwilioTransport:
        """How the outbox's messages reach a phone (bot.delivery), with delivery reports."""
        return TwilioTransport(
            lambda: self.client,
            self.sender,
            self.address_prefix,
            self.parts,
            self._status_url,
            self.services.stores.addresses,
            self.name(),
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = webhook_blueprint(self)

        async def handle(payload: dict[str, Any]) -> None:
            await self._handle(payload, on_new_message)

        self.services.attach(webhook, self.name(), self.transport(), handle)

        @webhook.route("/status", methods=["POST"])
        async def status(request: Request) -> HTTPResponse:
            form = self._signed_form(request, self._status_url)
            if isinstance(form, HTTPResponse):
                return form
            report = twilio_report(form, self.name())
            if report is not None and form.get("MessageSid"):
                try:
                    await self.services.core.outbox.report(form["MessageSid"], *report)
                except STORE_FAULTS as error:
                    self.services.faults.count(STORE_DOWN, error, f"the {self.name()} status callback")
                    return response.json({"error": "not recorded, try again"}, status=503)
            return response.empty()

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            form = self._signed_form(request, self._webhook_url)
            if isinstance(form, HTTPResponse):
                return form
            address = form.get("From", "").removeprefix(self.address_prefix)
            if not form.get("MessageSid") or not _FROM.match(address):
                return response.json({"error": "a Twilio message needs MessageSid and From"}, status=400)
            sender = self.services.sender_ids.of(self.name(), address)
            kept = {key: form[key] for key in _KEPT_FIELDS if key in form}
            turn = f"{self.name()}:{sender}:{form['MessageSid']}"
            urgent = self.services.urgent(form.get("Body"))
            if urgent:
                self.services.knock(sender, self.name(), clean(form.get("Body")), self._metadata(address), turn)
            try:
                fresh = await self.services.core.journal.record(
                    sender,
                    turn,
                    self.services.dialogue.retention.dedupe_s,
                    {"channel": self.name(), "form": kept, "urgent": urgent},
                )
            except STORE_FAULTS as error:  # not durable: answer now, in the webhook's own response
                self.services.faults.count(STORE_DOWN, error, f"the {self.name()} webhook")
                return response.text(self._fail_safe(address, form), content_type="text/xml")
            if fresh:
                self.services.accept(sender)
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return webhook

    def _signed_form(self, request: Request, url: str) -> dict[str, str] | HTTPResponse:
        """The request's form if Twilio signed it for ``url``; else the refusal to answer with."""
        try:  # parsed here, not by Sanic: Twilio signs empty fields (a photo's Body="") too
            form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8"), keep_blank_values=True).items()}
        except (UnicodeDecodeError, ValueError):
            return response.json({"error": "body must be a URL-encoded form"}, status=400)
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not self._validator.validate(url, form, signature):
            return response.json({"error": "forbidden"}, status=403)
        return form

    def _metadata(self, address: str) -> dict[str, Any]:
        # Only the country goes to Rasa (and so into its stores), never the number or the name.
        metadata: dict[str, Any] = {"channel": self.name()}
        claim = CLAIM.get()
        if claim is not None:  # the same each time this message is handled: side effects keyed by it happen once
            metadata["turn"] = claim.key
        country = from_phone(address)
        if country:
            metadata["country"] = country
        return metadata

    def _fail_safe(self, address: str, form: dict[str, str]) -> str:
        """The numbers as TwiML messages in the webhook's answer (Twilio sends them), which needs
        neither our stores nor Twilio's REST API."""
        sender = self.services.sender_ids.of(self.name(), address)
        said = self.services.fallback(sender, clean(form.get("Body")), self._metadata(address))
        parts = [part for message in said for part in self.parts(message.text)]
        body = "".join(f"<Message>{escape(part)}</Message>" for part in parts)
        return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'

    async def _handle(self, payload: dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """One journalled message (bot.storage.inbound), in its conversation's order."""
        form: dict[str, str] = payload["form"]
        address = form["From"].removeprefix(self.address_prefix)
        sender = self.services.sender_ids.of(self.name(), address)
        metadata = self._metadata(address)
        text = clean(form.get("Body"))
        has_media = form.get("NumMedia", "0") not in ("", "0")
        await self.services.remember(sender, address)
        output = TwilioOutput(self, address)
        before = self.services.dialogue.only_words(metadata, alone=not text) if has_media else []
        await self.services.turn(
            on_new_message,
            UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata),
            output,
            self._timeout_s,
            before,
        )


class SmsChannel(TwilioChannel):
    """Plain SMS from any phone: replies split at sentence ends, at most 3 segments each."""

    sender_variable = "TWILIO_SMS_FROM"

    @classmethod
    def name(cls) -> str:
        return "sms"

    def parts(self, text: str) -> list[str]:
        return split(text, max_segments=_SMS_SEGMENTS)


class WhatsAppChannel(TwilioChannel):
    """WhatsApp through Twilio ("whatsapp:+..." addresses)."""

    address_prefix = "whatsapp:"
    sender_variable = "TWILIO_WHATSAPP_FROM"

    @classmethod
    def name(cls) -> str:
        return "whatsapp"
