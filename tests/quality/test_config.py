"""The versioned gate config: validation, versions, user-facing errors."""

from __future__ import annotations

import pytest
import yaml

from robustclap.contracts.errors import RobustclapError
from robustclap.quality.config import default_config_text, load_config, parse_config


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


_BASE = "gates:\n  level1: {}\n  level2: {}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # issue 16 case 2: a gate switched off or broken without a word
        ("gates:\n  level1: {sbert_min: .nan}\n  level2: {}\n", "finite"),
        ("gates:\n  level1: {sbert_min: .inf}\n  level2: {}\n", "finite|less than"),
        ("gates:\n  level1: {sbert_min: true}\n  level2: {}\n", "expected a number"),
        ("gates:\n  level1: {sbert_min: 7.5}\n  level2: {}\n", "less than or equal to 1"),
        ("gates:\n  level1: {}\n  level2: {}\n  facts: {role_swaps_max: -1}\n",
         "greater than or equal to 0"),
        ("gates:\n  level1: {}\n  level2: {}\n  degenerate: {length_ratio_max: -2}\n",
         "greater than or equal to 0"),
        ("gates:\n  level1: {content_recall_max: 0.5}\n  level2: {}\n", "Extra inputs"),
        ("gates:\n  level1: {content_novelty_min: 0.5}\n  level2: {}\n", "Extra inputs"),
        ("gates:\n  level1: {}\n  level2: {content_recall_min: 0.5}\n", "Extra inputs"),
        ("gates:\n  level1: {}\n  level2: {structure_edit_min: 0.5}\n", "Extra inputs"),
        ("gates:\n  level1: {near_copy: 1}\n  level2: {}\n", "true or false"),
        ("gates:\n  level1: {sbert_min: 0.8, sbert_min: 0.1}\n  level2: {}\n", "duplicate key"),
        ("gates:\n  level1: {}\n  level2: {}\ngates:\n  level1: {}\n  level2: {}\n",
         "duplicate key"),
        (_BASE + "combined: {role_swap: .nan}\n", "finite|greater than"),
        (_BASE + "combined: {role_swap: false}\n", "expected a number"),
        (_BASE + "calibration: {target_precision: 1.5}\n", "less than or equal to 1"),
    ],
)
def test_thresholds_are_finite_in_range_known_and_unique(text, message):
    with pytest.raises(RobustclapError, match=message):
        parse_config(text)


def test_null_switches_a_gate_off(tmp_path):
    cfg = parse_config("gates:\n  level1: {sbert_min: null}\n  level2: {}\n")
    assert cfg.gates.level1.sbert_min is None
    assert parse_config(_BASE + "  alignment: {definition: false}\n").gates.alignment.definition \
        is False


def test_non_utf8_config_is_one_clear_message(tmp_path):
    f = tmp_path / "gates.yaml"
    f.write_bytes(b"gates:\n  level1: {sbert_min: 0.8}  # caf\xe9\n  level2: {}\n")
    with pytest.raises(RobustclapError, match="not UTF-8"):
        load_config(f)


def test_non_utf8_config_exits_2_without_traceback(tmp_path):
    import subprocess
    import sys

    f = tmp_path / "gates.yaml"
    f.write_bytes(b"\xff\xfe gates")
    proc = subprocess.run([sys.executable, "-m", "robustclap", "gate", "--input", str(tmp_path),
                           "--out", str(tmp_path / "o"), "--config", str(f)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "not UTF-8" in proc.stderr and "Traceback" not in proc.stderr


def test_shipped_config_decides_with_the_learned_models(shipped_config):
    """The default gate: rules by nature stay rules, meaning and wording are learned."""
    cfg = shipped_config
    assert cfg.learned.enabled and cfg.learned.meaning is not None
    assert cfg.gates.alignment.levels == (1,)  # level 2's unmatched words are weighed
    assert cfg.gates.level2.sbert_min is None and cfg.gates.level1.sbert_min is None
    assert cfg.gates.facts.negation_diff_max == 0 and cfg.gates.facts.number_diff_max == 0
    assert cfg.gates.facts.order_violations_max == 0 and cfg.gates.facts.role_swaps_max == 0
    assert cfg.learned.fitted_on  # provenance of the fit is recorded


def test_a_learned_section_without_its_models_is_refused(tmp_path):
    data = yaml.safe_load(default_config_text())
    del data["learned"]["wording_level2"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(RobustclapError, match="wording_level2"):
        load_config(bad)
