"""The `paraphrase` flow: ingest → generate (a task per shard) → gate → regenerate the
captions that failed (≤ K rounds) → publish a versioned corpus → emit a publish event.

Flows only wire stages together; every stage also runs from the CLI without Prefect.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event
from robustclap.flows.card import body as card_body
from robustclap.flows.config import RunConfig, load_run_config
from robustclap.flows.publish import publish
from robustclap.flows.stage_publish import publish_info
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.generate import Generator, Shard, run_shards
from robustclap.pipeline.ingest import ColumnMapping
from robustclap.pipeline.llm.served import ServedBackend
from robustclap.pipeline.runner import LazyBackend, run_generate
from robustclap.pipeline.worker_cache import WorkerCache, merge_worker_caches, worker_cache_path

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.progress import GenerationUpdate, generation_progress
from robustclap.contracts.stage import STATS_VERSION, StageStats, total

LLM_LIMIT = "robustclap-llm"  # global concurrency limit on the LLM endpoint (optional)
PUBLISHED_EVENT = "robustclap.corpus.published"
_ACTIVE: dict[str, tuple[Generator, list[Shard], set | None]] = {}
_BACKENDS: dict[str, LazyBackend] = {}  # one engine per flow run, shared by its rounds


@task(name="generate-shard", retries=1, retry_delay_seconds=10,
      retry_condition_fn=lambda task, run, state: "EndpointUnavailable" in str(state.message))
def generate_shard(run_key: str, index: int, shard_key: str) -> dict:
    """One shard of captions through the LLM. Its committed Parquet file is its persisted
    result, named by the shard's content key; a shard already committed is never submitted."""
    gen, shards, wanted = _ACTIVE[run_key]
    before = dict(vars(gen.stats))
    with concurrency(LLM_LIMIT, occupy=1, strict=False):
        run_shards([shards[index]], gen, wanted)
    after = vars(gen.stats)
    return {k: after[k] - before[k] for k in ("llm_calls", "cache_hits", "rows_written")}


def _prefect_shards(shards: list[Shard], gen: Generator, wanted: set | None) -> None:
    """Shard runner for run_generate: committed shards are counted, the rest become tasks."""
    run_key = f"{gen.run_id}-r{gen.round}"
    _ACTIVE[run_key] = (gen, shards, wanted)
    bar = gen.progress if isinstance(gen.progress, GenerationUpdate) else None
    try:
        run_shards([s for s in shards if s.done], gen, wanted)
        if bar:
            bar.shards(sum(not s.done for s in shards))
        for s in shards:
            if not s.done:
                generate_shard.with_options(task_run_name=f"shard-r{gen.round}-{s.index:05d}")(
                    run_key, s.index, s.key)
                if bar:
                    bar.shard_done()
    finally:
        _ACTIVE.pop(run_key, None)


GATE_MARKER = ".gate_key"


def _gate_content_key(gen_dir: Path, gate_dir: Path, gate_version: str) -> str:
    """Every candidate shard's content key + the gate config version + where it is written."""
    from robustclap.contracts.schema import META_EXTRA, file_metadata

    # the stats version too: a result cached in an older stats shape is never reused
    h = hashlib.sha256(f"{STATS_VERSION}\x1f{gate_version}\x1f{gate_dir.resolve()}".encode())
    for f in sorted((gen_dir / "candidates").glob("*.parquet")):
        h.update(f.name.encode() + file_metadata(f).get(META_EXTRA, b""))
    return "gate-" + h.hexdigest()[:32]


def _gate_key(context, params: dict) -> str | None:
    """The content key, offered to Prefect's cache only while the gate's files on disk were
    written for exactly this content (a marker records it), so a cache hit never stands in
    for outputs that are missing or belong to other candidates."""
    gen_dir, gate_dir = Path(params["gen_dir"]), Path(params["gate_dir"])
    key = _gate_content_key(gen_dir, gate_dir, params["gate_version"])
    marker = gate_dir / GATE_MARKER
    return key if marker.is_file() and marker.read_text() == key else None


@task(name="gate", cache_key_fn=_gate_key, persist_result=True)
def gate_task(gen_dir: str, gate_dir: str, gate_version: str, config_path: str | None,
              cache_path: str) -> StageStats:
    from robustclap.quality.config import load_config
    from robustclap.quality.gate import run_gate

    stats = run_gate(gen_dir, gate_dir, load_config(config_path), cache_path=cache_path)
    marker = Path(gate_dir) / GATE_MARKER
    marker.write_text(_gate_content_key(Path(gen_dir), Path(gate_dir), gate_version))
    return stats


@task(name="generate-shard-remote", retries=1, retry_delay_seconds=10,
      retry_condition_fn=lambda task, run, state: "EndpointUnavailable" in str(state.message))
def generate_shard_remote(cfg_json: str, url: str, model: str, revision: str, run_id: str,
                          round_: int, index: int, path: str, key: str, records: list[dict],
                          wanted: list | None) -> dict:
    """One shard on any worker (Dask): it builds its own client to the served endpoint and
    opens the shared response cache, so nothing but plain data crosses the process boundary."""
    cfg = GenerateConfig.model_validate_json(cfg_json)
    backend = ServedBackend(url, cfg.model, cfg.resolved_api_key(), cfg.concurrency,
                            cfg.request_timeout_s, cfg.max_retries)
    shared = cfg.cache_path() / "llm-responses.sqlite"  # read here, merged by the flow
    cache = WorkerCache(shared, worker_cache_path(shared, run_id, round_, index))
    try:
        gen = Generator(cfg, backend, cache, model, revision, run_id, round_)
        with concurrency(LLM_LIMIT, occupy=1, strict=False):
            run_shards([Shard(index, Path(path), key, records, False)], gen,
                       {tuple(w) for w in wanted} if wanted is not None else None)
        return {**vars(gen.stats), "fail_reasons": dict(gen.stats.fail_reasons)}
    finally:
        cache.close()


def _dask_shards(url: str):
    """Shard runner that submits every pending shard at once to the flow's task runner."""

    def runner(shards: list[Shard], gen: Generator, wanted: set | None) -> None:
        shared = gen.cfg.cache_path() / "llm-responses.sqlite"
        merge_worker_caches(shared)  # what a killed run's tasks left behind
        run_shards([s for s in shards if s.done], gen, wanted)
        futures = [
            generate_shard_remote.with_options(task_run_name=f"shard-r{gen.round}-{s.index:05d}")
            .submit(gen.cfg.model_dump_json(), url, gen.model_name, gen.model_revision,
                    gen.run_id, gen.round, s.index, str(s.path), s.key, s.captions,
                    sorted(wanted) if wanted is not None else None)
            for s in shards if not s.done
        ]
        bar = gen.progress if isinstance(gen.progress, GenerationUpdate) else None
        if bar:
            bar.shards(len(futures))
        for future in futures:
            stats = future.result()
            if bar:  # rows are counted on the workers: the bar moves a shard at a time
                bar(stats.get("rows_written", 0), stats.get("completion_tokens", 0))
                bar.shard_done()
            for name, value in stats.items():
                if name == "fail_reasons":
                    gen.stats.fail_reasons.update(value)
                else:
                    setattr(gen.stats, name, getattr(gen.stats, name) + value)
        merge_worker_caches(shared)  # no task in flight: the flow is the only writer

    return runner


def generate_round(rc: RunConfig, gen_dir: Path, round_: int, regenerate: Path | None,
                   backend_key: str) -> dict:
    mapping = ColumnMapping(rc.caption_col, rc.clip_col, rc.split_col)
    backend = _BACKENDS[backend_key]
    runner = _prefect_shards if rc.task_runner == "thread" else _dask_shards(backend.url())
    return run_generate(rc.input, gen_dir, rc.generate, fmt=rc.format, split=rc.split,
                        mapping=mapping, max_clips=rc.max_clips, regenerate=regenerate,
                        round_=round_, shard_runner=runner, backend=backend,
                        progress_factory=lambda n: generation_progress(
                            n, label=f"round {round_}"))


def _clear_regeneration_rounds(gen_dir: Path) -> None:
    """Rounds ≥ 1 depend on this run's gate: rebuilt (from the cache) every run."""
    for f in (gen_dir / "candidates").glob("r*.parquet"):
        if not f.name.startswith("r00-"):
            f.unlink()


def task_runner_for(rc: RunConfig):
    """The Prefect task runner a run config asks for."""
    if rc.task_runner == "thread":
        return None
    if rc.generate.backend != "served":
        raise RobustclapError("task_runner: dask needs generate.backend: served")
    from prefect_dask import DaskTaskRunner

    if rc.dask_address:
        return DaskTaskRunner(address=rc.dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": rc.dask_workers,
                                          "threads_per_worker": 1, "processes": True,
                                          "host": "127.0.0.1", "dashboard_address": None})


def run_paraphrase(config_path: str, overrides: dict | None = None) -> dict:
    """Run the flow with the task runner its config names."""
    rc = load_run_config(config_path, overrides)
    runner = task_runner_for(rc)
    key = rc.generate.api_key
    if runner is not None and key is not None:  # Dask workers resolve it from their environment
        os.environ[rc.generate.api_key_env] = key.get_secret_value()
    flow_ = paraphrase_flow.with_options(task_runner=runner) if runner else paraphrase_flow
    return flow_(config_path, overrides)


@flow(name="robustclap-paraphrase", log_prints=True)
def paraphrase_flow(config_path: str, overrides: dict | None = None) -> dict:
    """Run the whole paraphrase pipeline for one run config and publish a corpus version."""
    logger = get_run_logger()
    rc = load_run_config(config_path, overrides)
    gen_dir, gate_dir = rc.work_dir / rc.name / "generated", rc.work_dir / rc.name / "gated"
    _clear_regeneration_rounds(gen_dir)
    from robustclap.quality.config import load_config

    gate_version = load_config(rc.gate_config).version
    cfg_path = str(rc.gate_config) if rc.gate_config else None
    score_cache = str(rc.work_dir / rc.name / "score_cache.sqlite")
    backend_key = str(uuid.uuid4())
    _BACKENDS[backend_key] = LazyBackend(rc.generate, gen_dir)
    try:
        rounds = [generate_round(rc, gen_dir, 0, None, backend_key)]
        gate = gate_task(str(gen_dir), str(gate_dir), gate_version, cfg_path, score_cache)
        for r in range(1, rc.regenerate_rounds + 1):
            if gate.counts["regenerate"] == 0:
                break
            logger.info("round %d: regenerating %d (caption, level)", r,
                        gate.counts["regenerate"])
            rounds.append(generate_round(rc, gen_dir, r, gate_dir / "regenerate.parquet",
                                         backend_key))
            gate = gate_task(str(gen_dir), str(gate_dir), gate_version, cfg_path, score_cache)
    finally:
        _BACKENDS.pop(backend_key).close()

    published = publish(rc.corpus_root(), rc.name, gen_dir, gate_dir,
                        publish_info(rounds, gate))
    _artifacts(rc, published)
    ft = rc.finetune
    counts = published["counts"]
    ready = counts["pass_rate"] >= ft.min_pass_rate and counts["accepted"] >= ft.min_accepted
    emit_event(
        PUBLISHED_EVENT,
        resource={"prefect.resource.id": f"robustclap.corpus.{rc.name}",
                  "prefect.resource.name": rc.name, "robustclap.ready": str(ready).lower()},
        payload={"manifest": published["manifest_path"], "version": published["version"],
                 "accepted": counts["accepted"], "pass_rate": counts["pass_rate"],
                 "config_path": str(Path(config_path).resolve())},
    )
    published["finetune_ready"] = ready
    return published


def generation_stats(published: dict) -> list[StageStats]:
    """The generation rounds a corpus manifest lists (also one published before StageStats)."""
    return [StageStats.from_dict(g, legacy="generate") for g in published.get("generation", [])]


def _artifacts(rc: RunConfig, published: dict) -> None:
    counts = published["counts"]
    gen = generation_stats(published)
    wall_h = total(gen, "wall_s") / 3600
    create_markdown_artifact(
        card_body((Path(published["path"]) / "README.md").read_text()), key=f"{rc.name}-card",
        description=f"{rc.name} v{published['version']}",
    )
    create_table_artifact(
        [{"metric": k, "value": v} for k, v in {
            "captions": counts["captions"], "candidates": counts["candidates"],
            "accepted": counts["accepted"], "pass_rate": counts["pass_rate"],
            "llm_calls": total(gen, "llm_calls"),
            "completion_tokens": total(gen, "completion_tokens"),
            "rows_per_s": gen[0].counts.get("rows_per_s") if gen else None,
            "accepted_per_hour": round(counts["accepted"] / wall_h, 1) if wall_h else None,
        }.items()],
        key=f"{rc.name}-counts", description="corpus counts and throughput",
    )
    per_gate = [
        {"level": lv, "gate": gate, "pass_rate": rate}
        for lv, info in counts.get("gate_levels", {}).items()
        for gate, rate in (info.get("pass_rate", {}) if isinstance(info, dict) else {}).items()
    ]
    if per_gate:
        create_table_artifact(per_gate, key=f"{rc.name}-gates", description="pass rate per gate")
    link = rc.dashboard_url or Path(published["path"]).resolve().as_uri()
    create_link_artifact(link, link_text=f"{rc.name} v{published['version']}",
                         key=f"{rc.name}-report")


def summary_line(published: dict) -> str:
    c = published["counts"]
    return json.dumps({"version": published["version"], "path": published["path"],
                       "accepted": c["accepted"], "pass_rate": c["pass_rate"],
                       "llm_calls": total(generation_stats(published), "llm_calls")})
