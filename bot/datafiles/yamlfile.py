"""Reading the project's YAML data files with line numbers, so every error names file, line and field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml


class ConfigError(ValueError):
    """A data or configuration file is broken; the message names the file, the line and the field."""

    def __init__(self, path: Path | str, line: Optional[int], field: str, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


class LineDict(dict[Any, Any]):
    """A mapping that remembers the line (1-based) each key was written on."""

    lines: dict[Any, int]
    start_line: int

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.start_line)


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (libyaml's when present: 10x faster on the routing table) building :class:`LineDict`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    mapping = LineDict()
    mapping.lines = {}
    mapping.start_line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise ConfigError(loader.name, key_node.start_mark.line + 1, str(key), "this key is written twice")
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class YamlFile:
    """A parsed YAML file: its path (for error messages) and its top-level mapping."""

    path: Path
    data: LineDict

    def error(self, mapping: LineDict, key: Any, field: str, problem: str) -> ConfigError:
        """An error pointing at ``key`` of ``mapping`` (a mapping somewhere inside this file)."""
        return ConfigError(self.path, mapping.line_of(key), field, problem)


def load_mapping(path: Path | str) -> YamlFile:
    """Load a YAML file whose top level is a mapping; raise ConfigError for any defect."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, "", f"cannot be read ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, "", f"is not UTF-8 text (byte {exc.start})") from exc
    loader = _LineLoader(text)
    loader.name = str(path)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(path, line, "", f"is not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, "", f"is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(data, LineDict):
        raise ConfigError(path, 1, "", "must be a mapping of keys to values at the top level")
    return YamlFile(path, data)
