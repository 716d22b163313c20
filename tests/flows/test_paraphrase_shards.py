"""The flow's one generate-shard task (flows/shards.py) without starting Prefect: the ShardJob
value, the worker path (its own client and cache file, as on Dask) and the thread path (the
flow's live objects lent as an argument), and the `run` command resolving the model once."""

from __future__ import annotations

import contextlib
import pickle
from pathlib import Path

import pytest
from pydantic import SecretStr

from robustclap.bench.fake_openai import FakeOpenAI
from robustclap.contracts.schema import CANDIDATES, col, read_table
from robustclap.flows import shards
from robustclap.flows.shards import ShardJob, ShardResources, generate_shard
from robustclap.llm.cache import ResponseCache
from robustclap.llm.model_ref import resolve_llm_model
from robustclap.llm.served import ServedBackend
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.generate import Generator, Shard
from robustclap.pipeline.ingest import ingest

REPO = Path(__file__).resolve().parents[2]
SECRET = "sk-never-in-a-job"
FEEDBACK = "it dropped 'twice'."


@pytest.fixture
def fake_llm():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True)
def no_prefect_limit(monkeypatch):
    """The optional global limit asks Prefect's API; these tests run the task's body alone."""
    monkeypatch.setattr(shards, "concurrency", lambda *a, **k: contextlib.nullcontext())


def setup(tmp_path: Path, url: str) -> tuple[Generator, Shard, dict]:
    cfg = GenerateConfig(model="fake", base_url=url, api_key=SecretStr(SECRET), levels=[1],
                         max_attempts=1, cache_dir=str(tmp_path / "cache"))
    captions = ingest(REPO / "examples" / "captions.csv").captions.to_dict("records")[:4]
    gen = Generator(cfg, ServedBackend.from_config(url, cfg),
                    ResponseCache(cfg.cache_path() / "llm-responses.sqlite"),
                    resolve_llm_model(cfg), "run1", 1)
    shard = Shard(0, tmp_path / "r01-00000.parquet", "key0", captions[:2], False)
    first, other = captions[0][col.caption_id], captions[3][col.caption_id]
    wanted = {(first, 1): ("A kettle is heard.", FEEDBACK), (other, 1): ("x", "y")}
    return gen, shard, wanted


def test_a_job_is_plain_data_with_its_own_shard_feedback_and_no_key(tmp_path):
    gen, shard, wanted = setup(tmp_path, "http://127.0.0.1:1")
    job = ShardJob.of(gen, shard, wanted, "http://127.0.0.1:1")
    first = shard.captions[0][col.caption_id]
    assert job.wanted == {(first, 1): ("A kettle is heard.", FEEDBACK)}  # not other shards'
    assert (job.model, job.run_id, job.round) == (gen.model, "run1", 1)
    data = pickle.dumps(job)
    assert SECRET.encode() not in data and pickle.loads(data) == job
    keys = {(c[col.caption_id], 1) for c in shard.captions}
    as_set = ShardJob.of(gen, shard, keys | {("elsewhere", 1)}, None)
    assert as_set.wanted == dict.fromkeys(keys, (None, None))
    assert ShardJob.of(gen, shard, None, None).wanted is None
    gen.cache.close()


def test_a_worker_builds_its_own_client_and_cache_file(tmp_path, fake_llm, monkeypatch):
    """What a Dask worker runs: regeneration feedback reaches the rows (a list of keys used
    to travel instead, which dropped it), replies go to the worker's own cache file."""
    gen, shard, wanted = setup(tmp_path, fake_llm.url)
    gen.cache.close()
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # a worker reads the key from its environment
    stats = generate_shard.fn(ShardJob.of(gen, shard, wanted, fake_llm.url))
    assert stats["rows_written"] == stats["llm_calls"] == fake_llm.requests == 1
    assert fake_llm.auth == [f"Bearer {SECRET}"]
    rows = read_table(CANDIDATES, shard.path).to_pylist()
    assert [(r[col.caption_id], r[col.feedback], r[col.status]) for r in rows] == [
        (shard.captions[0][col.caption_id], FEEDBACK, "ok")]
    own = list((tmp_path / "cache" / "workers").glob("run1-r1-00000.sqlite"))
    assert len(own) == 1 and len(ResponseCache(own[0])) == 1


def test_on_the_thread_runner_the_task_uses_the_flows_objects(tmp_path, fake_llm):
    gen, shard, _ = setup(tmp_path, fake_llm.url)
    progressed: list[tuple[int, int]] = []
    lent = ShardResources(gen.backend, gen.cache, lambda rows, tokens: progressed.append(
        (rows, tokens)))
    stats = generate_shard.fn(ShardJob.of(gen, shard, None, None), lent)
    assert stats["rows_written"] == stats["llm_calls"] == fake_llm.requests == 2
    assert len(gen.cache) == 2  # the flow's own response cache
    assert not (tmp_path / "cache" / "workers").exists()
    assert sum(r for r, _ in progressed) == 2  # rows reach the flow's bar as they finish
    gen.cache.close()


def test_run_command_resolves_the_model_once_and_passes_it_down(tmp_path, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from robustclap.cli import app
    from robustclap.flows import paraphrase
    from robustclap.llm import model_ref

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (tmp_path / "caps.csv").write_text("clip_id,split,caption\nc1,train,A dog barks.\n")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"name": "w", "input": "caps.csv",
                                   "generate": {"model": str(folder)}}))
    calls, got = [], {}
    real = model_ref.resolve_model

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    def fake_run(config_path, overrides=None, model=None, run_config=None):
        got["model"], got["run_config"] = model, run_config
        return {"version": 1, "path": "p", "counts": {"accepted": 0, "pass_rate": 0.0},
                "generation": [], "finetune_ready": False}

    monkeypatch.setattr(model_ref, "resolve_model", counting)
    monkeypatch.setattr(paraphrase, "run_paraphrase", fake_run)
    res = CliRunner().invoke(app, ["run", str(cfg)])
    assert res.exit_code == 0, res.output
    assert len(calls) == 1
    assert got["run_config"].name == "w"  # the run config, loaded once by the CLI
    assert got["model"].name == str(folder.resolve()) and got["model"].reference == str(folder)
