"""Read a YAML config the strict way: UTF-8 only, safe_load, duplicate keys refused.

PyYAML silently keeps the last of two equal keys, so a config could say one thing twice and
mean the second; undecodable bytes raised a bare UnicodeDecodeError. Both are now one message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from robustclap.contracts.errors import RobustclapError


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a mapping naming one key twice is an error."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_yaml(text: str, what: str) -> Any:
    """YAML text → Python data, or a RobustclapError naming `what`."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RobustclapError(f"{what} is not valid YAML: {exc}") from exc


def read_yaml(path: str | Path, what: str = "config") -> Any:
    """Read and parse one YAML file; every failure is one clear message."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RobustclapError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RobustclapError(f"{what} {path}: not UTF-8 text (byte {exc.start}: "
                              f"{raw[exc.start:exc.start + 1]!r})") from exc
    return parse_yaml(text, f"{what} {path}")
