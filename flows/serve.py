"""`robustclap serve`: deploy the paraphrase flow on a cron schedule and the fine-tune flow
with a trigger on the publish event, served by this process (no Prefect Cloud feature).

Needs a Prefect API (`prefect server start`, bound to 127.0.0.1 by default) named by
PREFECT_API_URL; the event trigger is evaluated by that server.
"""

from __future__ import annotations

from pathlib import Path

from prefect import serve
from prefect.events import DeploymentEventTrigger

from robustclap.flows.config import load_run_config
from robustclap.flows.finetune import finetune_flow
from robustclap.flows.paraphrase import PUBLISHED_EVENT, paraphrase_flow, task_runner_for
from robustclap.flows.run_checks import check_run


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


def serve_config(config_path: str | Path) -> None:
    serve(*deployments(config_path))
