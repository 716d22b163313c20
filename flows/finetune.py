"""The `finetune` and `evaluate` flows: train CLAP on a published corpus version, then
measure original / level-1 / level-2 retrieval. Parameters come from the publish event."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.stage import StageStats
from robustclap.corpus.versions import read_manifest, verify_version
from robustclap.flows.config import load_run_config


@task(name="train")
def train_task(train_config: str, overrides: dict) -> StageStats:
    from robustclap.training.config import load_config
    from robustclap.training.train import train

    return train(load_config(train_config, overrides))  # a max_steps override replaces epochs


@task(name="evaluate")
def evaluate_task(model: str, audio_dir: str, captions: str, corpus: str, split: str) -> dict:
    from robustclap.training.evaluate import evaluate_model

    return evaluate_model(model, audio_dir, captions, corpus, split=split)


def _metric_rows(result: dict) -> list[dict]:
    rows = []
    for query, by_direction in (result.get("retrieval") or {}).items():
        for direction, metrics in by_direction.items():
            if isinstance(metrics, dict):
                rows.append({"direction": direction, "queries": query,
                             **{k: v for k, v in metrics.items() if isinstance(v, int | float)}})
    return rows


@flow(name="robustclap-evaluate")
def evaluate_flow(model: str, manifest: str, audio_dir: str, split: str = "test") -> dict:
    """Robustness evaluation of one checkpoint on one corpus version."""
    version_dir = Path(manifest).parent
    result = evaluate_task(model, audio_dir, str(version_dir / layout.CAPTIONS_FILE),
                           str(version_dir), split)
    rows = _metric_rows(result)
    if rows:
        create_table_artifact(rows, key="robustclap-evaluation",
                              description=f"{model} on {version_dir}")
    return result


@flow(name="robustclap-finetune")
def finetune_flow(manifest: str, config_path: str) -> dict:
    """Fine-tune on the corpus version named by `manifest` (the publish event's payload)."""
    logger = get_run_logger()
    rc = load_run_config(config_path)
    ft = rc.finetune
    if ft.train_config is None:
        raise RobustclapError(f"{config_path}: finetune.train_config is not set")
    version_dir = verify_version(Path(manifest).parent)  # the readers' contract, then train
    meta = read_manifest(version_dir)
    out = layout.finetune_dir(rc.corpus_root(), meta["version"])
    overrides: dict = {"out_dir": str(out),
                       "data.captions": str(version_dir / layout.CAPTIONS_FILE),
                       "data.corpus": str(version_dir)}
    if ft.audio_dir:
        overrides["data.audio_dir"] = str(ft.audio_dir)
    if ft.max_steps:
        overrides["max_steps"] = ft.max_steps
    logger.info("fine-tuning on %s v%s into %s", meta["name"], meta["version"], out)
    summary = train_task(str(ft.train_config), overrides)
    model_dir = summary.extra.get("model_dir") or str(out / layout.MODEL_DIR)
    from robustclap.training.config import load_config

    audio_dir = str(ft.audio_dir or load_config(ft.train_config).data.audio_dir)
    result = evaluate_flow(model_dir, manifest, audio_dir, ft.evaluate_split)
    (out / layout.EVALUATION_FILE).write_text(json.dumps(result, indent=2, default=str))
    create_markdown_artifact(
        f"# Fine-tuned on {meta['name']} v{meta['version']}\n\nmodel: `{model_dir}`\n\n"
        f"```json\n{json.dumps(result, indent=2, default=str)[:20000]}\n```",
        key=f"{rc.name}-finetune",
    )
    return {"model_dir": model_dir, "evaluation": result, "train": summary.to_dict()}
