"""Messages the server sends a child on its own (a counsellor's words, waiting-time notices, the
bot's follow-ups): kept in a durable outbox until sent, retried, in order, and their fate told."""
