"""The versioned gate config: validation, versions, user-facing errors."""

from __future__ import annotations

import pytest
import yaml

from pipeline.errors import RobustclapError
from quality.config import default_config_text, load_config, parse_config


def test_default_config_loads_and_has_both_levels(config):
    assert config.gates.level1.sbert_min is not None
    assert config.gates.level2.content_recall_max is not None
    assert len(config.version) == 12


def test_version_is_a_content_hash(tmp_path):
    data = yaml.safe_load(default_config_text())
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump(data))  # comments and layout differ, content does not
    assert load_config(same).version == load_config().version
    data["gates"]["level1"]["sbert_min"] = 0.5
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    assert load_config(changed).version != load_config().version


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gates: [unclosed", "not valid YAML"),
        ("- a list", "mapping"),
        ("gates:\n  level1: {}\n  level2: {}\n  levle3: {}\n", "invalid gate config"),
        ("gates:\n  level1: {sbert_min: high}\n  level2: {}\n", "invalid gate config"),
        ("scorers:\n  surface:\n    meta_patterns: ['(unclosed']\n"
         "gates:\n  level1: {}\n  level2: {}\n", "bad regular expression"),
        ("gates:\n  level1: {}\n  level2: {}\n  degenerate:\n    length_ratio_min: 3\n"
         "    length_ratio_max: 2\n", "length_ratio_min"),
    ],
)
def test_bad_configs_are_refused_clearly(text, message):
    with pytest.raises(RobustclapError, match=message):
        parse_config(text)


def test_missing_config_file_is_a_user_error(tmp_path):
    with pytest.raises(RobustclapError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
