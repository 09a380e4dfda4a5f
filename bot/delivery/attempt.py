"""What came of one attempt to send a message, and the counsellor's words for why it failed.

An attempt is sent (with the provider's ids, to match its delivery reports), worth retrying later
(the API is down, slow, or asked us to wait), or refused for good: the child blocked the bot, the
number cannot receive messages. A refusal stops the retries and is told to the counsellor, who
can then try another way; its reason is written for them (the console is in English), never
with the child's address or words.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional


class Outcome(str, enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    REFUSED = "refused"


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    reason: str = ""  # refused: for the counsellor; retry: for the log (what failed, never the message)
    retry_after_s: Optional[float] = None  # the API said when to try again (Telegram's flood control)
    receipts: tuple[str, ...] = ()  # the provider's ids of what it took (Twilio's message SIDs)

    @classmethod
    def sent(cls, *receipts: str) -> "Attempt":
        return cls(Outcome.SENT, receipts=receipts)

    @classmethod
    def retry(cls, reason: str, after_s: Optional[float] = None) -> "Attempt":
        return cls(Outcome.RETRY, reason, after_s)

    @classmethod
    def refused(cls, reason: str) -> "Attempt":
        return cls(Outcome.REFUSED, reason)


# Reasons a message was not delivered, as the counsellor reads them next to it.
BLOCKED = "the child blocked the bot"
TELEGRAM_GONE = "the child's Telegram account or chat no longer exists"
TELEGRAM_REFUSED = "Telegram refused the message"
NO_ADDRESS = "the child's address is no longer kept (they deleted their data, or wrote last over a week ago)"
TOO_OLD = "not sent within the time allowed: the channel was unreachable too long"
NO_CHANNEL = "no server here sends on this channel"
CANNOT_SMS = "the number cannot receive SMS"
NOT_A_NUMBER = "the number is not a valid phone number"
UNSUBSCRIBED = "the child unsubscribed from our messages (they sent STOP)"
UNREACHABLE = "the phone is unreachable (switched off or out of coverage)"
UNKNOWN_NUMBER = "the number does not exist or is no longer in service"
LANDLINE = "the number is a landline or cannot receive text messages"
WHATSAPP_WINDOW = "WhatsApp only lets us write within 24 hours of the child's last message"
CARRIER_REFUSED = "the child's phone company refused the message"
CARRIER_BLOCKED = "the message was blocked, by the child or their phone company"
TWILIO_REFUSED = "Twilio refused the message"

# Twilio's error codes (https://www.twilio.com/docs/api/errors), from the API or a status callback,
# that no retry will change.
TWILIO_PERMANENT = {
    21211: NOT_A_NUMBER,
    21612: CANNOT_SMS,
    21614: CANNOT_SMS,
    21408: CANNOT_SMS,
    21610: UNSUBSCRIBED,
    30003: UNREACHABLE,
    30004: CARRIER_BLOCKED,
    30005: UNKNOWN_NUMBER,
    30006: LANDLINE,
    30007: CARRIER_REFUSED,
    30008: CARRIER_REFUSED,
    63016: WHATSAPP_WINDOW,
    63024: NOT_A_NUMBER,
}


def twilio_reason(code: Optional[int], channel: str = "sms") -> str:
    """The counsellor's words for a Twilio error code; WhatsApp's numbers "cannot receive WhatsApp"."""
    reason = TWILIO_PERMANENT.get(code or 0, f"{TWILIO_REFUSED} (error {code})" if code else TWILIO_REFUSED)
    return reason.replace("SMS", "WhatsApp messages") if channel == "whatsapp" else reason
