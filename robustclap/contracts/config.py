"""Read a YAML config the strict way: UTF-8 only, safe_load, duplicate keys refused; and turn
it into a validated pydantic model with `load_yaml_model` (the one loader of every config).

PyYAML silently keeps the last of two equal keys, so a config could say one thing twice and
mean the second; undecodable bytes raised a bare UnicodeDecodeError. Both are now one message.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from robustclap.contracts.errors import RobustclapError


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a mapping naming one key twice is an error."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            continue  # unhashable: construct_mapping below raises its own clear error
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


class _Unset:
    """The type of UNSET (a singleton with a readable repr)."""

    def __repr__(self) -> str:
        return "UNSET"


# An override value that removes a key, so the model's default applies (a step count from the
# command line replaces the file's `epochs`). None in an override means "keep the file's value".
UNSET: Any = _Unset()

M = TypeVar("M", bound=BaseModel)


def apply_overrides(data: dict, overrides: Mapping[str, Any] | None, source: str = "") -> dict:
    """Set {"generate.sampling.max_tokens": 64}-style overrides in a nested mapping, in place.

    The one override style of every config: dotted keys; None keeps the file's value, UNSET
    removes the key. A dotted key through a value that is not a mapping is an error."""
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for i, key in enumerate(parents):
            child = node.setdefault(key, {})
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                where = ".".join(parents[:i + 1])
                raise RobustclapError(f"cannot set {dotted}{_in(source)}: {where} is "
                                      f"{type(child).__name__}, not a mapping")
            node = child
        if value is UNSET:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return data


def _in(source: str) -> str:
    return f" in {source}" if source else ""


def validation_lines(exc: ValidationError, prefix: str = "") -> str:
    """Pydantic's errors as `  field.path: message` lines (inputs are not echoed: a field may
    hold a secret)."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix.split(".") if prefix else []) + list(err["loc"]))
        lines.append(f"  {loc or '(top)'}: {err['msg']}")
    return "\n".join(lines)


def validate_model(data: Any, model: type[M], what: str = "config", source: str = "",
                   prefix: str = "") -> M:
    """Validate a mapping into `model`; every failure is one RobustclapError naming `what`,
    `source` (the file) and each field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        head = f"invalid {what} {source}" if source else f"invalid {what}"
        raise RobustclapError(f"{head}:\n{validation_lines(exc, prefix)}") from exc


def _model_from(data: Any, model: type[M], overrides: Mapping[str, Any] | None, what: str,
                source: str, section: str | None) -> M:
    label = f"{what} {source}" if source else what
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RobustclapError(f"{label}: expected a mapping at the top level")
    prefix = ""
    if section is not None and section in data:
        data, prefix = data[section], section
        if not isinstance(data, dict):
            raise RobustclapError(f"{label}: `{section}` must be a mapping")
    apply_overrides(data, overrides, label)
    return validate_model(data, model, what, source, prefix)


def parse_yaml_model(text: str, model: type[M], overrides: Mapping[str, Any] | None = None, *,
                     what: str = "config", source: str = "",
                     section: str | None = None) -> M:
    """YAML text → a validated `model` (see load_yaml_model)."""
    label = f"{what} {source}" if source else what
    return _model_from(parse_yaml(text, label), model, overrides, what, source, section)


def load_yaml_model(path: str | Path | None, model: type[M],
                    overrides: Mapping[str, Any] | None = None, *, what: str = "config",
                    section: str | None = None) -> M:
    """Read a YAML file strictly, apply dotted `overrides` (None = keep), validate as `model`.

    Every config of the toolkit is loaded here, so every one refuses the same things the same
    way: undecodable bytes, invalid YAML, duplicate keys, a top level that is not a mapping,
    unknown keys and bad values (when the model forbids extras) — one RobustclapError naming
    the file and the field. `path=None` validates the overrides alone; `section`: when the
    file has this top-level key, the model is read from it (a run config's `generate:`
    serves `robustclap generate`). An empty file is an empty mapping."""
    if path is None:
        return _model_from({}, model, overrides, what, "", section)
    data = read_yaml(path, what)
    return _model_from(data, model, overrides, what, str(path), section)
