"""Languages: which ones we speak (data/languages.yml), which one a child writes in (script,
hints, an n-gram model and langdetect), cleaning what they typed, and the texts children read,
one file per language (data/texts/).
"""

from bot.language.detection import LanguageDecision, LanguageDetector, LanguageHints, LanguageRegistry
from bot.language.input_text import clean, has_words
from bot.language.texts import Texts

__all__ = ["LanguageDecision", "LanguageDetector", "LanguageHints", "LanguageRegistry", "Texts", "clean", "has_words"]
