"""A generated corpus with two versions (v2 has shifted scores and training results)."""

from __future__ import annotations

from pathlib import Path

import pytest

from robustclap.dashboard.synthetic import write_evaluation, write_version

N_CAPTIONS = 300


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "demo"
    write_version(root, 1, N_CAPTIONS, seed=1)
    write_version(root, 2, N_CAPTIONS, seed=2, shift=0.03)
    write_evaluation(root, 2)
    return root
