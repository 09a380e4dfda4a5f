"""Handing a conversation to a human counsellor: the helplines' desks (data/handoff.yml), the
ticket queue in Redis (or memory), counsellors' accounts, the short intake, outcome codes,
canned replies, and delivery to a helpline's own system by signed webhook.
"""

from bot.handoff.counsellors import Counsellors
from bot.handoff.desks import Desk, Desks, HandoffRequest
from bot.handoff.outcomes import Outcomes
from bot.handoff.queue import HandoffQueue, MemoryHandoffQueue, RedisHandoffQueue, Risk, State, Ticket, TicketError

__all__ = [
    "Counsellors",
    "Desk",
    "Desks",
    "HandoffQueue",
    "HandoffRequest",
    "MemoryHandoffQueue",
    "Outcomes",
    "RedisHandoffQueue",
    "Risk",
    "State",
    "Ticket",
    "TicketError",
]
