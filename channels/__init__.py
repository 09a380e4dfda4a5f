"""Rasa input channels: verify, normalise and pass on; no conversation logic lives here.

Rasa imports this package when it loads our channels, which installs one speed-up to Rasa's
custom-action path (channels/rasa_speedups.py).
"""

from channels import rasa_speedups

rasa_speedups.install()
