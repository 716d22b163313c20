"""The on-disk layout: every file and folder name a stage writes or reads, in one module.

Stages write and read through these names, so renaming a file is one edit here, and a reader
(the dashboard, training, the Hub export) can never spell a name differently from its writer.

A generation folder (`generate --out`; the flow's `<work_dir>/<name>/generated`):
    captions.parquet, ingest_rejects.parquet   ingest (also run by generate)
    candidates/rNN-XXXXX.parquet               one shard per NN = round, XXXXX = shard index
    manifest.json, manifests/RUN_ID.json       the latest run's manifest; every run's
A gate folder (`gate --out`; the flow's `<work_dir>/<name>/gated`):
    accepted / rejected / scores / regenerate .parquet, summary.json, summary.md,
    gate_config.yaml, score_cache.sqlite (unless --cache-dir), .gate_key (the flow's marker)
A corpus folder (`<corpus_dir>/<name>`):
    vN/          one published version: the gate files, captions.parquet, candidates/,
                 generation_manifests/, manifest.json, and the Hub dataset (README.md card,
                 data/<config>/<split>.parquet)
    latest       a symlink to the newest vN
    finetune/vN/ a model fine-tuned on version N and its evaluation.json
The shared cache folder (`--cache-dir`, ROBUSTCLAP_CACHE_DIR): llm-responses.sqlite.
A training folder (`train --out`; the flow's `<corpus>/finetune/vN`): config.yaml,
    summary.json, skipped_audio.csv, metrics.jsonl / metrics.csv, checkpoints/, model/.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robustclap.contracts.config import read_yaml
from robustclap.contracts.errors import RobustclapError

# --- generation folder
CAPTIONS_FILE = "captions.parquet"
INGEST_REJECTS_FILE = "ingest_rejects.parquet"
CANDIDATES_DIR = "candidates"
MANIFEST_FILE = "manifest.json"  # also the manifest of a published version
RUN_MANIFESTS_DIR = "manifests"

# --- gate folder
ACCEPTED_FILE = "accepted.parquet"
REJECTED_FILE = "rejected.parquet"
SCORES_FILE = "scores.parquet"
REGENERATE_FILE = "regenerate.parquet"
SUMMARY_FILE = "summary.json"
SUMMARY_MD_FILE = "summary.md"
GATE_CONFIG_FILE = "gate_config.yaml"
SCORE_CACHE_FILE = "score_cache.sqlite"
JUDGE_CACHE_FILE = "judge_cache.sqlite"
GATE_MARKER = ".gate_key"  # the flow's record of what a gate folder was computed from
# what a published version copies from the gate folder
GATE_FILES = (ACCEPTED_FILE, REJECTED_FILE, SCORES_FILE, REGENERATE_FILE, SUMMARY_FILE,
              SUMMARY_MD_FILE, GATE_CONFIG_FILE)

# --- shared cache folder
LLM_CACHE_FILE = "llm-responses.sqlite"

# --- the flow's work folder
GENERATED_DIR = "generated"
GATED_DIR = "gated"

# --- corpus folder
LATEST = "latest"
# a publish assembles its version in `.publishing-PID-XXXXXXXX` and swaps `latest` through
# `.latest-PID`; the next publish removes those a killed process left
PUBLISHING_PREFIX = ".publishing-"
LATEST_TMP_PREFIX = ".latest-"
VERSION_RE = re.compile(r"^v(\d+)$")
GENERATION_MANIFESTS_DIR = "generation_manifests"
CARD_FILE = "README.md"
HUB_DATA_DIR = "data"
FINETUNE_DIR = "finetune"
EVALUATION_FILE = "evaluation.json"

# --- training folder
TRAIN_CONFIG_FILE = "config.yaml"
TRAIN_SUMMARY_FILE = "summary.json"
SKIPPED_AUDIO_FILE = "skipped_audio.csv"
METRICS_JSONL_FILE = "metrics.jsonl"
METRICS_CSV_FILE = "metrics.csv"
CHECKPOINTS_DIR = "checkpoints"
SCENES_FILE = "scenes.parquet"  # the scene-retrieval experiment's SCENES table
MODEL_DIR = "model"  # the exported fine-tuned model, when the run completes


def shard_prefix(round_: int) -> str:
    """File-name prefix of one round's candidate shards (`r00-`, `r01-`, ...)."""
    return f"r{round_:02d}-"


def shard_file(gen_dir: Path, round_: int, index: int) -> Path:
    """Where shard `index` of round `round_` is committed."""
    return Path(gen_dir) / CANDIDATES_DIR / f"{shard_prefix(round_)}{index:05d}.parquet"


def candidate_shards(folder: Path) -> list[Path]:
    """The committed candidate shards under a generation (or version) folder, sorted."""
    return sorted((Path(folder) / CANDIDATES_DIR).glob("*.parquet"))


def regeneration_shards(gen_dir: Path) -> list[Path]:
    """Shards of rounds >= 1: they depend on the gate of the run that wrote them, so the flow
    rebuilds them (from the response cache) every run."""
    first = shard_prefix(0)
    return [p for p in sorted((Path(gen_dir) / CANDIDATES_DIR).glob("r*.parquet"))
            if not p.name.startswith(first)]


def work_dirs(work_dir: Path, name: str) -> tuple[Path, Path]:
    """The flow's generation and gate folders of corpus `name`."""
    base = Path(work_dir) / name
    return base / GENERATED_DIR, base / GATED_DIR


def work_score_cache(work_dir: Path, name: str) -> Path:
    """The flow's score cache of corpus `name`, beside its folders and kept across runs."""
    return Path(work_dir) / name / SCORE_CACHE_FILE


def version_dir(root: Path, number: int) -> Path:
    return Path(root) / f"v{number}"


def versions(root: Path) -> list[int]:
    """Version numbers of the `vN` folders of a corpus folder (no check of their content)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(int(m.group(1)) for p in root.iterdir() if (m := VERSION_RE.match(p.name)))


def newest_version_dir(root: Path) -> Path | None:
    """The highest-numbered `vN` folder (None when there is none)."""
    found = versions(root)
    return version_dir(root, found[-1]) if found else None


def finetune_dir(root: Path, number: int) -> Path:
    """Where the model fine-tuned on version `number` and its evaluation are written."""
    return Path(root) / FINETUNE_DIR / f"v{number}"


def _json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RobustclapError(f"{path}: not valid JSON ({exc})") from exc


@dataclass(frozen=True)
class Version:
    """One published version of a corpus and the paths of its tables (strings: DuckDB reads
    them as they are)."""

    root: Path
    number: int

    @property
    def path(self) -> Path:
        return version_dir(self.root, self.number)

    @property
    def captions(self) -> str:
        return str(self.path / CAPTIONS_FILE)

    @property
    def candidates(self) -> list[str]:
        """The shard files, listed here: a folder name holding `[x]` or `*` is not a glob."""
        return [str(p) for p in candidate_shards(self.path)]

    @property
    def accepted(self) -> str:
        return str(self.path / ACCEPTED_FILE)

    @property
    def rejected(self) -> str:
        return str(self.path / REJECTED_FILE)

    @property
    def scores(self) -> str:
        return str(self.path / SCORES_FILE)

    def has_candidates(self) -> bool:
        return any((self.path / CANDIDATES_DIR).glob("*.parquet"))

    def manifest(self) -> dict[str, Any]:
        return _json(self.path / MANIFEST_FILE)

    def generation_manifests(self) -> list[dict[str, Any]]:
        folder = self.path / GENERATION_MANIFESTS_DIR
        return [_json(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []

    def gate_config(self) -> dict[str, Any]:
        path = self.path / GATE_CONFIG_FILE
        if not path.exists():
            return {}
        return read_yaml(path, "gate config") or {}

    def evaluation(self) -> dict[str, Any] | None:
        """Training results of a model fine-tuned on this version, when there are any."""
        path = finetune_dir(self.root, self.number) / EVALUATION_FILE
        return _json(path) if path.exists() else None
