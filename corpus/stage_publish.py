"""What a published version records about the stages that made it, from their StageStats.

The flow passes the stats its stages returned; stage-by-stage users (`generate --out`,
`gate --out`) get the same version, with the stats read back from the two stage folders (the
generation manifests and the gate's summary.json; files older than StageStats load through
their old keys).
"""

from __future__ import annotations

from pathlib import Path

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.stage import StageStats, read_stats
from robustclap.corpus.publish import publish

# a round's provenance kept in the corpus manifest (the whole generation manifest, config
# included, is published beside it in generation_manifests/)
_ROUND_EXTRA = ("run_id", "round", "error")


def _round_key(s: StageStats) -> tuple[int, str]:
    return (s.extra.get("round") or 0, str(s.extra.get("run_id")))


def round_entry(s: StageStats) -> dict:
    """One generation round as the corpus manifest lists it (its stats, lean provenance)."""
    return {**s.to_dict(), "extra": {k: s.extra[k] for k in _ROUND_EXTRA if k in s.extra}}


def publish_info(rounds: list[StageStats], gate: StageStats, licence: str | None = None
                 ) -> dict:
    """The manifest fields `publish` records: provenance from the first generation round,
    every round's stats, the gate's stats."""
    if not rounds:
        raise RobustclapError("nothing to publish: no generation run")
    rounds = sorted(rounds, key=_round_key)
    first = rounds[0].extra
    info = {
        "source": {"input": first.get("input"), "ingest": first.get("ingest")},
        "model": first.get("model"), "model_revision": first.get("model_revision"),
        "prompt_versions": first.get("prompt_versions"),
        "gate_version": gate.extra.get("gate_version"),
        "rounds": len({_round_key(s)[0] for s in rounds}),
        "generation": [round_entry(s) for s in rounds],
        "gate": {**gate.to_dict(), "extra": {"gate_version": gate.extra.get("gate_version")}},
    }
    if licence:
        info["license"] = licence
    return info


def stage_info(gen_dir: Path, gate_dir: Path, licence: str | None = None) -> dict:
    """`publish_info` from the two stage folders."""
    for folder, marker, stage in ((gen_dir, layout.CAPTIONS_FILE, "generate"),
                                  (gate_dir, layout.SUMMARY_FILE, "gate")):
        if not (folder / marker).is_file():
            raise RobustclapError(f"{folder}: no {marker}; is it a `robustclap {stage} --out` "
                                  "folder?")
    runs = sorted((gen_dir / layout.RUN_MANIFESTS_DIR).glob("*.json")) \
        or [gen_dir / layout.MANIFEST_FILE]
    rounds = [read_stats(p, legacy="generate") for p in runs]
    return publish_info(rounds, read_stats(gate_dir / layout.SUMMARY_FILE, legacy="gate"),
                        licence)


def publish_stages(gen_dir: Path, gate_dir: Path, corpus_dir: Path, name: str,
                   licence: str | None = None) -> dict:
    """Publish `<corpus_dir>/<name>/vN` from a generation and a gate folder."""
    return publish(Path(corpus_dir) / name, name, Path(gen_dir), Path(gate_dir),
                   stage_info(Path(gen_dir), Path(gate_dir), licence))
