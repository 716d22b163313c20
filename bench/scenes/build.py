"""`robustclap scenes`: compose the scene set and write what the other stages read.

OUT/
  scenes.parquet           SCENES table: recipe, caption, held-out rewording of every scene
  scenes.csv               clip_id, split, caption (all scenes; ingest input)
  captions.parquet         CAPTIONS table of scenes.csv (for `robustclap train/evaluate`)
  paraphrase/scenes.csv    what the LLM paraphrases: 100 train captions (the packaged Qwen
                           writes ~15-35 tokens/s on 2 cores) + every test caption.
                           Same file stem as scenes.csv, so caption ids agree.
  paraphrase.yaml          the run config of the paraphrase flow (packaged model, gates,
                           publish to OUT/corpus/scenes/vN)
  skipped_sources.csv      source clips that could not be used, with the reason
  audio/<scene>.flac       only with --audio (16 kHz), for `robustclap train` / a GPU run
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from robustclap.bench.scenes.compose import Scene, render, sample_scene
from robustclap.bench.scenes.sources import SAMPLE_RATE, Segment, list_sources, load_segments
from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CAPTIONS, SCENES, write_table
from robustclap.contracts.schema import col as c
from robustclap.llm.packaged import DEFAULT_PACKAGED

DEFAULT_MODEL = DEFAULT_PACKAGED


@dataclass(frozen=True)
class SceneSet:
    out: Path
    scenes: list[Scene]
    paraphrase_input: Path
    run_config: Path
    counts: dict


def _by_class(segments: dict[str, Segment], split: str) -> dict[str, list[Segment]]:
    out: dict[str, list[Segment]] = {}
    for seg in sorted(segments.values(), key=lambda s: s.source.source_id):
        if seg.source.split == split:
            out.setdefault(seg.source.cls, []).append(seg)
    return out


def compose_split(split: str, n: int, by_class: dict[str, list[Segment]], seed: int,
                  unique: bool) -> list[Scene]:
    """n scenes of one split; with `unique`, no two share a caption (retrieval needs one
    relevant clip per query)."""
    if not by_class:
        raise RobustclapError(f"no usable source clips for the {split} split")
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    scenes, seen = [], set()
    while len(scenes) < n:
        scene = sample_scene(f"{split}-{len(scenes):05d}", split, by_class, rng)
        if unique and scene.caption in seen:
            continue
        seen.add(scene.caption)
        scenes.append(scene)
    return scenes


def paraphrase_subset(scenes: list[Scene], n: int, seed: int) -> list[Scene]:
    """n train scenes with distinct captions, drawn in a seeded order (every scene size
    appears in proportion)."""
    order = np.random.default_rng([seed, 2]).permutation(len(scenes))
    out, seen = [], set()
    for i in order:
        s = scenes[int(i)]
        if s.caption not in seen:
            seen.add(s.caption)
            out.append(s)
        if len(out) == n:
            break
    return out


def run_config(name: str, model: str, candidates: int, max_tokens: int, rounds: int = 2
               ) -> dict:
    return {
        "name": name, "input": "paraphrase/scenes.csv", "split_col": "split",
        "corpus_dir": "corpus", "work_dir": "work",
        "generate": {"model": model, "backend": "inprocess", "candidates": candidates,
                     "levels": [1, 2], "level2_source": "original", "max_attempts": 3,
                     "sampling": {"temperature": 0.8, "top_p": 0.95, "max_tokens": max_tokens}},
        # measured with the packaged Qwen2.5-Coder-1.5B, 2 candidates, 100 train + 300 test
        # captions on 2 cores: round 0 18.5 min (105 accepted), + round 1 22.6 min (134),
        # + round 2 ~20 min (146; 113 test paraphrases for 96 of the 300 test captions)
        "regenerate_rounds": rounds,
    }


def build_scenes(data_dir: str | Path, out: str | Path, n_train: int = 3000, n_test: int = 300,
                 n_paraphrase: int = 100, seed: int = 0, write_audio: bool = False,
                 model: str = DEFAULT_MODEL, candidates: int = 2, max_tokens: int = 96,
                 rounds: int = 2) -> SceneSet:
    """Compose train and test scenes from disjoint source recordings and write OUT/."""
    from robustclap.pipeline.ingest import ColumnMapping, ingest

    if min(n_train, n_test) < 1 or n_paraphrase < 0:
        raise RobustclapError("--train and --test must be at least 1, --paraphrase-train >= 0")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    segments, skipped = load_segments(list_sources(data_dir, seed))
    pd.DataFrame(skipped, columns=["source", "reason"]).to_csv(out / "skipped_sources.csv",
                                                              index=False)
    train = compose_split("train", n_train, _by_class(segments, "train"), seed, unique=False)
    test = compose_split("test", n_test, _by_class(segments, "test"), seed, unique=True)
    scenes = train + test
    write_table(SCENES, [{c.clip_id: s.scene_id, c.split: s.split, c.caption: s.caption,
                          c.reworded: s.reworded, c.duration_s: s.duration_s,
                          c.events: s.events_json(), c.relations: list(s.relations)}
                         for s in scenes], out / layout.SCENES_FILE)
    frame = pd.DataFrame({"clip_id": [s.scene_id for s in scenes],
                          "split": [s.split for s in scenes],
                          "caption": [s.caption for s in scenes]})
    frame.to_csv(out / "scenes.csv", index=False)
    res = ingest(out / "scenes.csv", fmt="csv", mapping=ColumnMapping(split="split"))
    if len(res.rejects):
        raise RobustclapError(f"ingest rejected {len(res.rejects)} scene captions: "
                              f"{res.rejects.iloc[0].to_dict()}")
    write_table(CAPTIONS, res.captions, out / layout.CAPTIONS_FILE)

    chosen = {s.scene_id for s in paraphrase_subset(train, n_paraphrase, seed)} | {
        s.scene_id for s in test}
    para_dir = out / "paraphrase"
    para_dir.mkdir(exist_ok=True)
    frame[frame["clip_id"].isin(chosen)].to_csv(para_dir / "scenes.csv", index=False)
    cfg_path = out / "paraphrase.yaml"
    cfg_path.write_text(
        "# robustclap run paraphrase.yaml: paraphrase the chosen scene captions, gate them and\n"
        "# publish corpus/scenes/vN (written by `robustclap scenes`)\n"
        + yaml.safe_dump(run_config("scenes", model, candidates, max_tokens, rounds),
                         sort_keys=False))
    if write_audio:
        import soundfile as sf

        (out / "audio").mkdir(exist_ok=True)
        for s in scenes:
            sf.write(out / "audio" / f"{s.scene_id}.flac", render(s, segments), SAMPLE_RATE)
    counts = {
        "train_scenes": len(train), "test_scenes": len(test),
        "train_unique_captions": len({s.caption for s in train}),
        "paraphrase_train_captions": len(chosen) - len(test),
        "paraphrase_test_captions": len(test),
        "sources": {sp: sum(seg.source.split == sp for seg in segments.values())
                    for sp in ("train", "test")},
        "skipped_sources": len(skipped),
        "events": {k: sum(len(s.events) == k for s in scenes) for k in (1, 2, 3)},
    }
    (out / "counts.json").write_text(json.dumps(counts, indent=2))
    return SceneSet(out, scenes, para_dir / "scenes.csv", cfg_path, counts)


def load_segments_for(data_dir: str | Path, seed: int = 0, sr: int = SAMPLE_RATE
                      ) -> dict[str, Segment]:
    """The event segments the scenes were composed from (to render them again, at `sr`)."""
    segments, _ = load_segments(list_sources(data_dir, seed), sr)
    return segments


def make_scenes(data_dir: Path, out: Path, n_train: int = 3000, n_test: int = 300,
                n_paraphrase: int = 100, seed: int = 0, audio: bool = False,
                paraphrase: bool = True, model: str = DEFAULT_MODEL, candidates: int = 2,
                rounds: int = 2) -> dict:
    """Build OUT/ and (with `paraphrase`) publish OUT/corpus/scenes/vN; returns the counts."""
    built = build_scenes(data_dir, out, n_train, n_test, n_paraphrase, seed, audio, model,
                         candidates, rounds=rounds)
    summary: dict = {"out": str(out), **built.counts}
    if paraphrase:
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        # lazy: Prefect and the engine load for seconds, and vLLM reads the level set above
        from robustclap.flows.config import load_run_config
        from robustclap.flows.paraphrase import run_paraphrase, summary_line
        from robustclap.llm.model_ref import resolve_llm_model

        # once, here: offline and not packaged is one clear message before Prefect starts
        ref = resolve_llm_model(load_run_config(built.run_config).generate)
        published = run_paraphrase(str(built.run_config), model=ref)
        summary["corpus"] = summary_line(published)
    return summary
