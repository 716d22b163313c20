"""Generation and gate folders as the stages leave them, built from the synthetic corpus
(no LLM, no gate run): what `publish` and `robustclap publish` take as input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from robustclap.contracts.schema import CAPTIONS, col, read_table, write_table
from robustclap.dashboard.synthetic import write_version

GATE_FILES = ("accepted.parquet", "rejected.parquet", "scores.parquet", "regenerate.parquet",
              "gate_config.yaml")


def make_stage_dirs(base: Path, n_captions: int = 40, source: str = "clotho",
                    seed: int = 0) -> tuple[Path, Path]:
    """(generated/, gated/) under `base`; gate files 0600 like the gate's mkstemp leaves them."""
    src = write_version(base / "synthetic", 1, n_captions, seed=seed)
    gen, gate = base / "generated", base / "gated"
    gen.mkdir(parents=True)
    gate.mkdir(parents=True)
    captions = read_table(CAPTIONS, src / "captions.parquet").to_pandas()
    write_table(CAPTIONS, captions.assign(**{col.source: source}), gen / "captions.parquet")
    shutil.copytree(src / "candidates", gen / "candidates")
    (gen / "manifests").mkdir()
    manifest = {"run_id": "r0", "model": "/home/someone/models/tiny-llm",
                "model_revision": "local", "prompt_versions": {"1": "aaaa1111", "2": "bbbb2222"},
                "input": str(base / "inputs" / "clotho_dev.csv"), "rows_written": 4 * n_captions}
    (gen / "manifests" / "r0.json").write_text(json.dumps(manifest))
    (gen / "manifest.json").write_text(json.dumps(manifest))
    for name in GATE_FILES:
        shutil.copy2(src / name, gate / name)
        os.chmod(gate / name, 0o600)
    accepted = pq.ParquetFile(gate / "accepted.parquet").metadata.num_rows
    regenerate = pq.ParquetFile(gate / "regenerate.parquet").metadata.num_rows
    summary = {"gate_version": "synthetic0001",
               "counts": {"accepted": accepted, "regenerate": regenerate}, "levels": {}}
    (gate / "summary.json").write_text(json.dumps(summary))
    (gate / "summary.md").write_text(f"# Gate summary (gate version `synthetic0001`)\n\n"
                                     f"{accepted} accepted.\n")
    return gen, gate
