"""load_yaml_model: the one loader of every YAML config (overrides, strictness, messages)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field

from robustclap.contracts.config import UNSET, apply_overrides, load_yaml_model
from robustclap.contracts.errors import RobustclapError


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(3, ge=1)
    name: str = "x"


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str
    epochs: float | None = None
    inner: Inner = Inner()


def _write(tmp_path, text: str | bytes):
    path = tmp_path / "c.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_reads_validates_and_applies_dotted_overrides(tmp_path):
    path = _write(tmp_path, "model: m\nepochs: 2\ninner: {size: 5}\n")
    cfg = load_yaml_model(path, Outer)
    assert (cfg.model, cfg.epochs, cfg.inner.size, cfg.inner.name) == ("m", 2, 5, "x")
    cfg = load_yaml_model(path, Outer, {"inner.name": "y", "model": None, "epochs": UNSET})
    assert (cfg.model, cfg.epochs, cfg.inner.size, cfg.inner.name) == ("m", None, 5, "y")


def test_override_creates_a_missing_section_and_works_without_a_file(tmp_path):
    cfg = load_yaml_model(_write(tmp_path, "model: m\n"), Outer, {"inner.size": 9})
    assert cfg.inner.size == 9
    cfg = load_yaml_model(None, Outer, {"model": "cli", "inner.name": "z"})
    assert (cfg.model, cfg.inner.name) == ("cli", "z")


def test_section_is_read_when_present(tmp_path):
    path = _write(tmp_path, "other: 1\ngenerate:\n  size: 7\n")
    assert load_yaml_model(path, Inner, section="generate").size == 7
    assert load_yaml_model(_write(tmp_path, "size: 4\n"), Inner, section="generate").size == 4
    with pytest.raises(RobustclapError, match=r"generate\.size: Input should be greater"):
        load_yaml_model(_write(tmp_path, "generate: {size: 0}\n"), Inner, section="generate")


@pytest.mark.parametrize(("text", "message"), [
    ("model: m\nmodle: n\n", r"invalid config .*c\.yaml:\n  modle: Extra inputs"),
    ("model: m\ninner: {colour: red}\n", r"  inner\.colour: Extra inputs are not permitted"),
    ("model: m\ninner: {size: many}\n", r"  inner\.size: Input should be a valid integer"),
    ("model: [1, 2]\n", r"  model: Input should be a valid string"),
    ("inner: {}\n", r"  model: Field required"),
    ("model: m\nmodel: n\n", r"c\.yaml is not valid YAML: .*duplicate key 'model'"),
    ("model: m\ninner: {size: 1, size: 2}\n", "duplicate key 'size'"),
    ("- a\n- b\n", r"c\.yaml: expected a mapping at the top level"),
    ("model: [unclosed\n", "is not valid YAML"),
    (b"model: caf\xe9\n", r"c\.yaml: not UTF-8 text \(byte 10"),
])
def test_every_failure_is_one_message_naming_file_and_field(tmp_path, text, message):
    with pytest.raises(RobustclapError, match=message):
        load_yaml_model(_write(tmp_path, text), Outer)


def test_message_names_what_is_loaded_and_never_echoes_the_value(tmp_path):
    path = _write(tmp_path, "model: m\ninner: {name: [sk-secret-value]}\n")
    with pytest.raises(RobustclapError) as info:
        load_yaml_model(path, Outer, what="run config")
    assert str(info.value).startswith(f"invalid run config {path}:\n  inner.name:")
    assert "sk-secret-value" not in str(info.value)


def test_missing_file_and_override_through_a_scalar_are_clear_errors(tmp_path):
    with pytest.raises(RobustclapError, match=r"cannot read training config .*nope\.yaml"):
        load_yaml_model(tmp_path / "nope.yaml", Outer, what="training config")
    with pytest.raises(RobustclapError, match=r"cannot set inner\.size in config .*: inner is "
                                              r"int, not a mapping"):
        load_yaml_model(_write(tmp_path, "model: m\ninner: 3\n"), Outer, {"inner.size": 2})


def test_apply_overrides_keeps_on_none_and_removes_on_unset():
    data = {"a": {"b": 1}, "c": 2}
    apply_overrides(data, {"a.b": None, "c": UNSET, "d.e.f": 0})
    assert data == {"a": {"b": 1}, "d": {"e": {"f": 0}}}
