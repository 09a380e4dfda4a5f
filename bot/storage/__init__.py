"""Where state lives and for how long: the small stores (dedupe, reply addresses, conversations,
web inboxes), each in memory or in Redis behind one interface, and the retention periods of
data/privacy.yml that every store's expiry comes from.
"""

from bot.storage.retention import DAY_S, Retention
from bot.storage.stores import AddressBook, Conversations, Dedupe, Inbox, Stores

__all__ = ["AddressBook", "Conversations", "DAY_S", "Dedupe", "Inbox", "Retention", "Stores"]
