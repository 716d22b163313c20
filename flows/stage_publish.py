"""Publish from the stage folders (`generate --out`, `gate --out`) without the flow.

Stage-by-stage users get the same version the flow writes: the model, prompt versions and
generation statistics come from the generation manifests, the gate version from the gate's
summary.
"""

from __future__ import annotations

import json
from pathlib import Path

from robustclap.flows.publish import publish

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError

_GEN_KEYS = ("run_id", "round", "llm_calls", "cache_hits", "rows_written", "rows_skipped",
             "ok_rows", "failed_rows", "prompt_tokens", "completion_tokens", "wall_s",
             "generate_wall_s", "rows_per_s", "tokens_per_s")


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RobustclapError(f"cannot read {path}: {exc}") from exc


def stage_info(gen_dir: Path, gate_dir: Path, licence: str | None = None) -> dict:
    """The manifest fields `publish` records, read from the two stage folders."""
    for folder, marker, stage in ((gen_dir, layout.CAPTIONS_FILE, "generate"),
                                  (gate_dir, layout.SUMMARY_FILE, "gate")):
        if not (folder / marker).is_file():
            raise RobustclapError(f"{folder}: no {marker}; is it a `robustclap {stage} --out` "
                                  "folder?")
    runs = sorted((gen_dir / layout.RUN_MANIFESTS_DIR).glob("*.json"))
    manifests = [_json(p) for p in runs] or [_json(gen_dir / layout.MANIFEST_FILE)]
    manifests.sort(key=lambda m: (m.get("round") or 0, str(m.get("run_id"))))
    first = manifests[0]
    summary = _json(gate_dir / layout.SUMMARY_FILE)
    info = {
        "source": {"input": first.get("input"), "ingest": first.get("ingest")},
        "model": first.get("model"), "model_revision": first.get("model_revision"),
        "prompt_versions": first.get("prompt_versions"),
        "gate_version": summary.get("gate_version"),
        "rounds": len({m.get("round") or 0 for m in manifests}),
        "generation": [{k: m.get(k) for k in _GEN_KEYS} for m in manifests],
    }
    if licence:
        info["license"] = licence
    return info


def publish_stages(gen_dir: Path, gate_dir: Path, corpus_dir: Path, name: str,
                   licence: str | None = None) -> dict:
    """Publish `<corpus_dir>/<name>/vN` from a generation and a gate folder."""
    return publish(Path(corpus_dir) / name, name, Path(gen_dir), Path(gate_dir),
                   stage_info(Path(gen_dir), Path(gate_dir), licence))
