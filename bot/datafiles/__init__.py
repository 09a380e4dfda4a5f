"""The data files the bot reads (YAML next to the Rasa files): loading them with line numbers,
so every error names the file, the line and the field; the sources facts rest on; the training
examples shared by the language detector and the risk classifier.
"""

from bot.datafiles.sources import Source
from bot.datafiles.yamlfile import ConfigError, LineDict, YamlFile, load_mapping

__all__ = ["ConfigError", "LineDict", "Source", "YamlFile", "load_mapping"]
