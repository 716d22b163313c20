"""The `paraphrase` flow: ingest → generate (a task per shard) → gate → regenerate the
captions that failed (≤ K rounds) → publish a versioned corpus → emit a publish event.

Flows only wire stages together; every stage also runs from the CLI without Prefect.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.events import emit_event

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.progress import generation_progress
from robustclap.contracts.stage import STATS_VERSION, StageStats, total
from robustclap.corpus.card import body as card_body
from robustclap.corpus.publish import publish
from robustclap.corpus.stage_publish import publish_info
from robustclap.flows.config import RunConfig, load_run_config
from robustclap.flows.shards import llm_limit_in_use, shard_runner
from robustclap.llm.engine import LazyBackend
from robustclap.llm.model_ref import ModelRef, resolve_llm_model
from robustclap.pipeline.config import IngestConfig
from robustclap.pipeline.runner import GenerateInputs, run_generation, run_ingest

if TYPE_CHECKING:  # the gate config loads SciPy: imported where a run needs it
    from robustclap.quality.config import GateConfig

PUBLISHED_EVENT = "robustclap.corpus.published"


GATE_MARKER = layout.GATE_MARKER


def _gate_content_key(gen_dir: Path, gate_dir: Path, gate_version: str) -> str:
    """Every candidate shard's content key + the gate config version + where it is written."""
    from robustclap.contracts.schema import META_EXTRA, file_metadata

    # the stats version too: a result cached in an older stats shape is never reused
    h = hashlib.sha256(f"{STATS_VERSION}\x1f{gate_version}\x1f{gate_dir.resolve()}".encode())
    for f in layout.candidate_shards(gen_dir):
        h.update(f.name.encode() + file_metadata(f).get(META_EXTRA, b""))
    return "gate-" + h.hexdigest()[:32]


def _gate_key(context, params: dict) -> str | None:
    """The content key, offered to Prefect's cache only while the gate's files on disk were
    written for exactly this content (a marker records it), so a cache hit never stands in
    for outputs that are missing or belong to other candidates."""
    gen_dir, gate_dir = Path(params["gen_dir"]), Path(params["gate_dir"])
    key = _gate_content_key(gen_dir, gate_dir, params["config"].version)
    marker = gate_dir / GATE_MARKER
    return key if marker.is_file() and marker.read_text() == key else None


# The config travels as the loaded object: the custom cache key reads only its version, so
# Prefect never hashes it.
@task(name="gate", cache_key_fn=_gate_key, persist_result=True)
def gate_task(gen_dir: str, gate_dir: str, config: GateConfig, cache_path: str,
              engine: LazyBackend | None = None, model: ModelRef | None = None) -> StageStats:
    """The gate stage; with `judge.enabled` in its config, the LLM judge asks the run's
    `engine` (opened only if a verdict is not cached beside the score cache)."""
    from robustclap.quality.gate import run_gate
    from robustclap.quality.judge import run_judge

    judge_cache = Path(cache_path).with_name(layout.JUDGE_CACHE_FILE)
    with run_judge(config, engine, model, judge_cache) as judge:
        stats = run_gate(gen_dir, gate_dir, config, cache_path=cache_path, judge=judge)
    marker = Path(gate_dir) / GATE_MARKER
    marker.write_text(_gate_content_key(Path(gen_dir), Path(gate_dir), config.version))
    return stats


def generate_round(rc: RunConfig, gen_dir: Path, inputs: GenerateInputs, engine: LazyBackend,
                   model: ModelRef, limited: bool = False) -> StageStats:
    """One generation round of the flow, on the flow's engine (shared by its rounds);
    `limited`: shard tasks take a slot of the `robustclap-llm` concurrency limit."""
    runner = shard_runner(engine, on_dask=rc.task_runner != "thread", limited=limited)
    return run_generation(inputs, gen_dir, rc.generate, engine=engine, model=model,
                          shard_runner=runner,
                          progress=lambda n: generation_progress(
                              n, label=f"round {inputs.round}"))


def ingest_config(rc: RunConfig) -> IngestConfig:
    """The ingest stage's config: the run config's keys of the same names."""
    return IngestConfig(**rc.model_dump(include=set(IngestConfig.model_fields)))


def _clear_regeneration_rounds(gen_dir: Path) -> None:
    """Rounds ≥ 1 depend on this run's gate: rebuilt (from the cache) every run."""
    for f in layout.regeneration_shards(gen_dir):
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


def run_paraphrase(config_path: str, overrides: dict | None = None,
                   model: ModelRef | None = None, run_config: RunConfig | None = None) -> dict:
    """Run the flow with the task runner its config names (`model`: already resolved;
    `run_config`: already loaded from `config_path` and `overrides`)."""
    rc = run_config or load_run_config(config_path, overrides)
    runner = task_runner_for(rc)
    key = rc.generate.api_key
    if runner is not None and key is not None:  # Dask workers resolve it from their environment
        os.environ[rc.generate.api_key_env] = key.get_secret_value()
    flow_ = paraphrase_flow.with_options(task_runner=runner) if runner else paraphrase_flow
    return flow_(config_path, overrides, model, rc)


@flow(name="robustclap-paraphrase", log_prints=True)
def paraphrase_flow(config_path: str, overrides: dict | None = None,
                    model: ModelRef | None = None, run_config: RunConfig | None = None) -> dict:
    """Run the whole paraphrase pipeline for one run config and publish a corpus version.

    The stages' configs are values, loaded once per run: `run_config` when the caller loaded
    it (`robustclap run`), else from `config_path` here (a deployment's parameter is the
    path). `model` is the run's resolved model when the caller resolved it already (the CLI
    does, to fail before Prefect starts); a scheduled run resolves it here, once for every
    round."""
    from robustclap.quality.config import load_config

    logger = get_run_logger()
    rc = run_config or load_run_config(config_path, overrides)
    gen_dir, gate_dir = layout.work_dirs(rc.work_dir, rc.name)
    _clear_regeneration_rounds(gen_dir)
    gate_config = load_config(rc.gate_config)
    score_cache = str(layout.work_score_cache(rc.work_dir, rc.name))
    model = model or resolve_llm_model(rc.generate)
    limited = llm_limit_in_use(rc.llm_limit)
    ingested = run_ingest(rc.input, gen_dir, ingest_config(rc))
    captions = gen_dir / layout.CAPTIONS_FILE
    with LazyBackend(rc.generate, gen_dir, model) as engine:  # one engine for every round
        rounds = [generate_round(rc, gen_dir, GenerateInputs(captions, 0, None, ingested,
                                                             rc.input), engine, model, limited)]
        gate = gate_task(str(gen_dir), str(gate_dir), gate_config, score_cache, engine, model)
        for r in range(1, rc.regenerate_rounds + 1):
            if gate.counts["regenerate"] == 0:
                break
            logger.info("round %d: regenerating %d (caption, level)", r,
                        gate.counts["regenerate"])
            regenerate = gate_dir / layout.REGENERATE_FILE
            rounds.append(generate_round(rc, gen_dir, GenerateInputs(
                captions, r, regenerate, ingested, rc.input), engine, model, limited))
            gate = gate_task(str(gen_dir), str(gate_dir), gate_config, score_cache, engine,
                             model)

    published = publish(rc.corpus_root(), rc.name, gen_dir, gate_dir,
                        publish_info(rounds, gate))
    if published["unchanged"]:  # nothing new: no version, no artifacts, no fine-tuning event
        logger.info("%s", unchanged_message(published))
        published["finetune_ready"] = False
        published["generation"] = [s.to_dict() for s in rounds]  # this run's own calls
        return published
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
        card_body((Path(published["path"]) / layout.CARD_FILE).read_text()), key=f"{rc.name}-card",
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


def unchanged_message(published: dict) -> str:
    return f"unchanged, latest is v{published['version']}"


def summary_line(published: dict) -> str:
    """The run's one output line (JSON); `unchanged` says whether it published nothing new,
    and `llm_calls` counts this run's calls."""
    c = published["counts"]
    message = (unchanged_message(published) if published.get("unchanged")
               else f"published v{published['version']}")
    return json.dumps({"message": message, "version": published["version"],
                       "path": published["path"], "unchanged": bool(published.get("unchanged")),
                       "accepted": c["accepted"], "pass_rate": c["pass_rate"],
                       "llm_calls": total(generation_stats(published), "llm_calls")})
