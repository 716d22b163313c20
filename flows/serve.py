"""The deployments `robustclap serve` serves from its own process (no Prefect Cloud feature):
the paraphrase flow on a cron schedule, the fine-tune flow triggered by the publish event.

Needs a Prefect API (`prefect server start`, bound to 127.0.0.1 by default) named by
PREFECT_API_URL; the event trigger is evaluated by that server.
"""

from __future__ import annotations

from pathlib import Path

from prefect.events import DeploymentEventTrigger

from robustclap.flows.config import check_run, load_run_config
from robustclap.flows.finetune import finetune_flow
from robustclap.flows.paraphrase import PUBLISHED_EVENT, paraphrase_flow, task_runner_for


def deployments(config_path: str | Path):
    rc = load_run_config(config_path)
    check_run(rc)  # a scheduled run must not discover a missing file at 3 a.m.
    path = str(Path(config_path).resolve())
    runner = task_runner_for(rc)
    flow_ = paraphrase_flow.with_options(task_runner=runner) if runner else paraphrase_flow
    paraphrase = flow_.to_deployment(
        name=f"{rc.name}-paraphrase", cron=rc.cron, parameters={"config_path": path},
        description=f"Scheduled paraphrase regeneration of {rc.name}",
    )
    trigger = DeploymentEventTrigger(
        name=f"{rc.name}-on-publish", expect={PUBLISHED_EVENT},
        match={"prefect.resource.id": f"robustclap.corpus.{rc.name}", "robustclap.ready": "true"},
        parameters={"manifest": "{{ event.payload.manifest }}", "config_path": path},
    )
    finetune = finetune_flow.to_deployment(
        name=f"{rc.name}-finetune", triggers=[trigger],
        description=f"Fine-tune CLAP when a new {rc.name} version is published",
    )
    return [paraphrase, finetune]
