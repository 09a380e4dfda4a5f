"""Anonymous statistics a helpline can publish (issue 6): counted as things happen, never who.

The dialogue and the handoff queue call a :class:`StatsRecorder` (bot.stats.record); counters
(bot.stats.counters) keep one number per week x dimensions; ``python -m bot.stats export`` writes
the weeks as CSV or JSON with small cells suppressed (bot.stats.export, bot.stats.suppress).
"""

from bot.stats.record import StatsRecorder, recorder

__all__ = ["StatsRecorder", "recorder"]
