"""The LLM judge over an OpenAI-compatible endpoint, and in the paraphrase flow's gate.

The endpoint is bench/fake_openai.py (a real HTTP server on 127.0.0.1 that answers the judge's
prompt with a rule: "different_scene" when a caption word of four letters or more is missing):
the client, structured-output request, cache and gate hook are the real code. No test here
starts `vllm serve`; tests/quality/test_judge.py runs the judge on the real in-process engine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from robustclap.bench.fake_openai import FakeOpenAI
from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import col
from robustclap.llm.engine import LazyBackend
from robustclap.llm.model_ref import ModelRef, resolve_llm_model
from robustclap.llm.settings import LLMSettings
from robustclap.pipeline.config import GenerateConfig
from robustclap.quality.config import load_config
from robustclap.quality.judge import DIFFERENT, SAME, SCHEMA, open_judge, run_judge

CAPTION = "A dog barks twice while rain falls."

# the rule-stack config: the hand-written cases say which rows pass "every other gate" there
RULES = Path(__file__).resolve().parents[2] / "quality" / "gates-rules.yaml"


@pytest.fixture
def endpoint():
    with FakeOpenAI() as server:
        yield server


def served_judge(url, cache_path, revision=None, max_tokens=160, **client):
    """A judge on the endpoint at `url` serving "fake", as `robustclap gate --judge-url` opens
    one (its identity is "fake@REVISION", "fake@served" without a revision)."""
    settings = LLMSettings(model="fake", base_url=url, revision=revision, api_key="EMPTY",
                           concurrency=8, **client)
    return open_judge(resolve_llm_model(settings), cache_path, max_tokens, settings=settings)


def _judge_on(config):
    return config.model_copy(update={"judge": config.judge.model_copy(update={"enabled": True})})


def test_served_judge_asks_the_endpoint_once_per_candidate(endpoint, tmp_path):
    items = [(CAPTION, "While rain falls, a dog barks twice.", 1),
             (CAPTION, "A dog barks while rain falls.", 1)]
    with served_judge(endpoint.url, tmp_path / "judge.sqlite", "r1", max_tokens=96) as judge:
        same, dropped = judge.judge(items)
        assert (same.verdict, dropped.verdict) == (SAME, DIFFERENT)
        assert dropped.missing == ["twice"]
        assert endpoint.requests == 2 and judge.calls == 2
        body = endpoint.last_body
        assert body["model"] == "fake" and body["temperature"] == 0.0
        assert body["max_tokens"] == 96
        assert body["response_format"]["json_schema"]["schema"] == SCHEMA
        assert "Paraphrase (level 1)" in body["messages"][-1]["content"]
    with served_judge(endpoint.url, tmp_path / "judge.sqlite", "r1", max_tokens=96) as judge:
        again = judge.judge(items)  # another process, the same cache file: nothing asked
    assert endpoint.requests == 2
    assert [v.verdict for v in again] == [SAME, DIFFERENT] and all(v.from_cache for v in again)
    with served_judge(endpoint.url, tmp_path / "judge.sqlite", "r2", max_tokens=96) as judge:
        judge.judge(items[:1])  # another model identity: asked again
    with served_judge(endpoint.url, tmp_path / "judge.sqlite", "r1") as judge:
        judge.judge(items[:1])  # other sampling (max_tokens 160): asked again
    assert endpoint.requests == 4


def test_an_unreachable_judge_endpoint_is_one_message(tmp_path):
    with FakeOpenAI() as gone:
        url = gone.url
    with (served_judge(url, tmp_path / "judge.sqlite", max_retries=0,
                       request_timeout_s=2) as judge,
          pytest.raises(RobustclapError, match="stopped answer")):
        judge.judge([(CAPTION, "While rain falls, a dog barks twice.", 1)])


def test_run_judge_is_off_by_default_and_refuses_what_it_cannot_do(tmp_path, config):
    model = ModelRef("fake", "r1", None, "fake")
    with run_judge(config, None, None, tmp_path / "j.sqlite") as judge:
        assert judge is None
    on = _judge_on(config)
    with pytest.raises(RobustclapError, match="no engine"), run_judge(on, None, None,
                                                                       tmp_path / "j.sqlite"):
        pass
    other = on.model_copy(update={"judge": on.judge.model_copy(update={"model": "big"})})
    with pytest.raises(RobustclapError, match="serves 'fake'"), run_judge(
            other, object(), model, tmp_path / "j.sqlite"):
        pass


def _warm_score_cache(gated, folder: Path) -> str:
    """A copy of the session gate's score cache: the scores are read, not computed again."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(gated[0] / layout.SCORE_CACHE_FILE, folder / layout.SCORE_CACHE_FILE)
    return str(folder / layout.SCORE_CACHE_FILE)


def test_the_flow_gate_judges_with_the_run_engine(endpoint, generated, gated, tmp_path, case):
    """gate_task as `robustclap run` calls it (the run's LazyBackend on its --base-url): every
    candidate that passed the other gates is judged once; a rerun asks nothing."""
    from robustclap.flows.paraphrase import gate_task

    raw = yaml.safe_load(RULES.read_text(encoding="utf-8"))  # the hand cases' expectations
    raw["judge"] = {**raw.get("judge", {}), "enabled": True}
    cfg_path = tmp_path / "gates.yaml"
    cfg_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    gate_config = load_config(cfg_path)
    gen = GenerateConfig(model="fake", base_url=endpoint.url, max_retries=0)
    model = ModelRef("fake", "served", None, "fake")
    work = tmp_path / "work"
    score_cache = _warm_score_cache(gated, work)
    good = sum(1 for r in case.ROWS if r[3] == case.GOOD)
    with LazyBackend(gen, work, model) as engine:
        stats = gate_task.fn(str(generated), str(work / "gated"), gate_config, score_cache,
                             engine, model)
        asked = endpoint.requests
        assert asked == good  # the rows that pass every other gate, and only those
        scores = pd.read_parquet(work / "gated" / layout.SCORES_FILE)
        by_judge = scores[[list(f) == ["judge"] for f in scores[col.failed_gates]]]
        # the fake's rule: "A cat chases a dog" -> "A dog is chased ... by a cat" lost "chases"
        assert 0 < len(by_judge) < good
        assert stats.rows_out == good - len(by_judge)
        assert (work / layout.JUDGE_CACHE_FILE).is_file()
        gate_task.fn(str(generated), str(work / "gated"), gate_config, score_cache, engine,
                     model)
    assert endpoint.requests == asked  # every verdict came from the judge cache


def test_the_flow_gate_without_judge_needs_no_engine(generated, gated, tmp_path, config):
    from robustclap.flows.paraphrase import gate_task

    stats = gate_task.fn(str(generated), str(tmp_path / "gated"), config,
                         _warm_score_cache(gated, tmp_path))
    assert stats.rows_out > 0
    assert not Path(tmp_path / layout.JUDGE_CACHE_FILE).exists()


def _cli(args: list[str], capsys) -> tuple[int, str]:
    """The real entry point in-process (a RobustclapError is one message and exit 2)."""
    from robustclap.cli import app

    code = 0
    try:
        app(args, prog_name="robustclap")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_gate_command_asks_a_served_judge(endpoint, generated, gated, tmp_path, case, capsys):
    good = sum(1 for r in case.ROWS if r[3] == case.GOOD)
    out = tmp_path / "c"
    base = ["--quiet", "gate", "--input", str(generated), "--out", str(out), "--cache-dir",
            str(_warm_score_cache(gated, tmp_path / "sc").rsplit("/", 1)[0]),
            "--config", str(RULES)]
    code, text = _cli([*base, "--judge-model", "fake", "--judge-url", endpoint.url], capsys)
    assert code == 0, text
    assert endpoint.requests == good
    counts = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert 0 < counts["accepted"] < gated[1].rows_out  # the judge rejected some
    assert (out / layout.JUDGE_CACHE_FILE).is_file()
    code, text = _cli([*base[:5], str(tmp_path / "c2"), *base[6:], "--judge-url", endpoint.url],
                      capsys)
    assert code == 2 and "--judge-url needs the judge on" in text and "Traceback" not in text
