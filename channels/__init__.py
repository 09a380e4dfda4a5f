"""Rasa input channels: verify, normalise and pass on; no conversation logic lives here.

Rasa imports this package when it loads our channels, which installs measured speed-ups to Rasa
(channels/rasa_speedups.py, channels/graph_order.py), keeps its connections to the action server
(channels/kept_sessions.py) and moves its model off the event loop
(channels/rasa_graph_thread.py).
"""

from channels import graph_order, kept_sessions, rasa_graph_thread, rasa_speedups

rasa_speedups.install()
graph_order.install()
kept_sessions.install()
rasa_graph_thread.install()
