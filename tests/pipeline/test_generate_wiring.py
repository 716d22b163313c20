"""How generation is wired (issue 15): the model is resolved once where a run starts and
passed down, the served client is built from the config, and the Generator gets its backend
when it is made; the stage opens its own engine only when there is something to ask."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from pydantic import SecretStr

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CANDIDATES, col, read_dir
from robustclap.llm import engine, model_ref
from robustclap.llm.model_ref import ModelRef, resolve_llm_model
from robustclap.llm.served import ServedBackend
from robustclap.llm.types import LLMResponse
from robustclap.pipeline import runner
from robustclap.pipeline.config import GenerateConfig

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "captions.csv"


class Answering:
    """A backend that answers every request at once with a valid reply and counts them."""

    def __init__(self) -> None:
        self.asked = 0

    def generate(self, requests, on_result) -> None:
        for i, _ in enumerate(requests):
            self.asked += 1
            on_result(i, LLMResponse('{"paraphrase": "a dog barks twice"}', "stop", 10, 5))

    def close(self) -> None:
        return None


def config(tmp_path: Path, **kw) -> GenerateConfig:
    base = {"model": "unresolvable", "backend": "inprocess", "levels": [1],
            "cache_dir": str(tmp_path / "cache"), "shard_size": 8, "max_attempts": 1}
    return GenerateConfig(**{**base, **kw})


def test_base_url_model_is_not_resolved_and_is_named_as_served(monkeypatch):
    monkeypatch.setattr(model_ref, "resolve_model", lambda *a, **k: pytest.fail("resolved"))
    cfg = GenerateConfig(model="my-served", base_url="http://127.0.0.1:1")
    assert resolve_llm_model(cfg) == ModelRef("my-served", "served", None, "my-served")
    pinned = cfg.model_copy(update={"revision": "abc123"})
    assert resolve_llm_model(pinned).revision == "abc123"


def test_local_folder_keeps_what_model_said_as_its_reference(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    ref = resolve_llm_model(GenerateConfig(model=str(folder)))
    assert ref.name == ref.local_path == str(folder.resolve())
    assert ref.reference == str(folder) and ref.revision.startswith("local-")
    with pytest.raises(RobustclapError, match="not a hub id"):
        resolve_llm_model(GenerateConfig(model="unresolvable"))


def test_served_backend_from_config_carries_the_client_settings():
    cfg = GenerateConfig(model="served-name", api_key=SecretStr("sk-1"), concurrency=3,
                         request_timeout_s=7.5, max_retries=2)
    b = ServedBackend.from_config("http://127.0.0.1:9/", cfg)
    assert (b.base_url, b.model, b.api_key, b.concurrency, b.timeout_s, b.max_retries) == (
        "http://127.0.0.1:9", "served-name", "sk-1", 3, 7.5, 2)


def test_the_model_passed_down_is_used_and_a_rerun_opens_no_engine(tmp_path, monkeypatch):
    """`model="unresolvable"` would fail to resolve: the run uses the ModelRef it is given
    (its reference and revision land on every row), and the rerun, with nothing left to ask,
    never opens its own backend."""

    def no_engine(*args, **kwargs):
        pytest.fail("the stage opened an engine with nothing to ask")

    cfg = config(tmp_path)
    ref = ModelRef("/nowhere/model", "rev-7", None, "unresolvable")
    out = tmp_path / "out"
    backend = Answering()
    first = runner.run_generate(EXAMPLE, out, cfg, model=ref, backend=backend, max_clips=3)
    assert backend.asked == first.counts["llm_calls"] > 0
    df = read_dir(CANDIDATES, out / "candidates").to_pandas()
    assert set(df[col.model]) == {"unresolvable"} and set(df[col.model_revision]) == {"rev-7"}
    monkeypatch.setattr(engine, "open_backend", no_engine)
    again = runner.run_generate(EXAMPLE, out, cfg, model=ref, max_clips=3)
    assert again.counts["llm_calls"] == 0 and again.counts["rows_skipped"] == len(df)


def test_the_stage_opens_its_own_engine_once_with_the_resolved_model(tmp_path, monkeypatch):
    opened: list[ModelRef] = []
    backend = Answering()

    @contextlib.contextmanager
    def fake_open(cfg, model, out_dir):
        opened.append(model)
        yield backend

    monkeypatch.setattr(engine, "open_backend", fake_open)
    ref = ModelRef("/nowhere/model", "rev-7", None, "unresolvable")
    stats = runner.run_generate(EXAMPLE, tmp_path / "out", config(tmp_path, shard_size=2),
                                model=ref, max_clips=3)
    assert opened == [ref]  # one engine for every shard of the run
    assert backend.asked == stats.counts["llm_calls"] > 0
    assert stats.counts["shards_written"] > 1
