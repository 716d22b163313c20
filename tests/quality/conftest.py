"""Fixtures of the quality tests: one spaCy pipeline and one set of scorers per session."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("ROBUSTCLAP_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def nlp():
    from robustclap.quality.nlp import load_spacy

    return load_spacy()


@pytest.fixture(scope="session")
def config():
    """The rule-stack config (quality/gates-rules.yaml): the rules' own tests read it."""
    from robustclap.quality.config import load_config

    return load_config(Path(__file__).resolve().parents[2] / "quality" / "gates-rules.yaml")


@pytest.fixture(scope="session")
def shipped_config():
    """The shipped default (quality/gates.yaml): rules plus the learned models."""
    from robustclap.quality.config import load_config

    return load_config()


@pytest.fixture(scope="session")
def scoring(config):
    """All scorers over an in-memory cache; models load once per test session."""
    from robustclap.quality.cache import ScoreCache
    from robustclap.quality.scoring import Scoring

    cache = ScoreCache(None)
    yield Scoring(config, cache)
    cache.close()


@pytest.fixture(scope="session")
def pair_data() -> Path:
    """../shared/data/paraphrase_pairs, or skip."""
    folder = SHARED_DATA / "paraphrase_pairs"
    if not folder.is_dir():
        pytest.skip(f"real data not available: {folder} is absent")
    return folder


@pytest.fixture(scope="session")
def case():
    """The hand-written candidates of candidates_data.py (loaded by path: test folders are not
    packages here, and a `tests/quality` package would shadow the `quality` package)."""
    spec = importlib.util.spec_from_file_location(
        "quality_test_candidates", Path(__file__).with_name("candidates_data.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generated(tmp_path_factory, case) -> Path:
    """A generation folder holding the hand-written candidates as one CANDIDATES shard."""
    from robustclap.contracts.schema import CANDIDATES, write_table

    folder = tmp_path_factory.mktemp("generated")
    write_table(CANDIDATES, case.candidate_rows(), folder / "candidates" / "part-00000.parquet")
    return folder


@pytest.fixture(scope="session")
def gated(generated, tmp_path_factory, config):
    """One gate run over `generated` (its score cache is reused by later tests)."""
    from robustclap.quality.gate import run_gate

    out = tmp_path_factory.mktemp("corpus")
    return out, run_gate(generated, out, config)
