"""Rasa custom actions: thin adapters from the Rasa tracker to bot/."""
