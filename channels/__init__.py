"""Rasa input channels: verify, normalise and pass on; no conversation logic lives here."""
