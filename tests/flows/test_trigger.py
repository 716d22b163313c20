"""A real `prefect server` on 127.0.0.1 (SQLite): `robustclap serve` deploys both flows, the
paraphrase deployment runs, and its publish event starts the fine-tune flow run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, procs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"{what}: a process exited early ({p.args[:3]})"
        value = predicate()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}")


def _api(method: str, url: str, **kw) -> httpx.Response:
    """One API call, asked again (bounded) while the server answers 5xx or is unreachable:
    a busy SQLite-backed server briefly answers 503."""
    for attempt in range(30):
        try:
            r = httpx.request(method, url, timeout=10, **kw)
            if r.status_code < 500:
                return r
        except httpx.TransportError:
            if attempt == 29:
                raise
        time.sleep(2)
    r.raise_for_status()
    return r


@pytest.fixture
def prefect_server(tmp_path):
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
    log = open(tmp_path / "prefect-server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    api = env["PREFECT_API_URL"]

    def healthy():
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    _wait(healthy, 180, "prefect server health", [proc])
    yield api, env
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)
    log.close()


def test_publish_event_triggers_finetune(tmp_path, prefect_server, run_config, flow_audio):
    from robustclap.training.tiny import save_tiny_clap

    api, env = prefect_server
    clap = save_tiny_clap(tmp_path / "tiny-clap")
    train_cfg = tmp_path / "train.yaml"
    train_cfg.write_text(yaml.safe_dump({
        "model": str(clap), "out_dir": str(tmp_path / "unused"),
        "data": {"audio_dir": str(flow_audio), "captions": str(tmp_path / "unused.parquet")},
        "batch_size": 2, "max_steps": 2, "device": "cpu", "progress": False,
        "optim": {"warmup_steps": 0}, "checkpoint_every": 50,
    }))
    cfg = run_config(name="trig", regenerate_rounds=0, cron=None,
                     finetune={"enabled": True, "train_config": str(train_cfg),
                               "audio_dir": str(flow_audio), "min_pass_rate": 0.0})
    serve_log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    serve = subprocess.Popen([str(BIN / "robustclap"), "serve", str(cfg)], env=env,
                             stdout=serve_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def deployment_id():
            r = _api("GET", f"{api}/deployments/name/robustclap-paraphrase/trig-paraphrase")
            return r.json()["id"] if r.status_code == 200 else None

        dep = _wait(deployment_id, 240, "the served deployments", [serve])
        _api("POST", f"{api}/deployments/{dep}/create_flow_run", json={}).raise_for_status()

        def finetune_runs(state: str | None = None):
            body = {"flows": {"name": {"any_": ["robustclap-finetune"]}}}
            if state:
                body["flow_runs"] = {"state": {"type": {"any_": [state]}}}
            r = _api("POST", f"{api}/flow_runs/filter", json=body)
            r.raise_for_status()
            return r.json()

        runs = _wait(finetune_runs, 600, "a fine-tune run started by the publish event", [serve])
        manifest = runs[0]["parameters"]["manifest"]
        assert manifest.endswith("trig/v1/manifest.json")
        published = json.loads(Path(manifest).read_text())
        assert published["name"] == "trig" and published["version"] == 1

        def finished():
            runs = finetune_runs()
            state = runs[0]["state"]["type"] if runs else None
            return state if state in ("COMPLETED", "FAILED", "CRASHED") else None

        assert _wait(finished, 600, "the fine-tune run to finish", [serve]) == "COMPLETED"
        evaluation = tmp_path / "corpus" / "trig" / "finetune" / "v1" / "evaluation.json"
        result = json.loads(evaluation.read_text())
        assert "original" in result["retrieval"]
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=60)
        serve_log.close()
