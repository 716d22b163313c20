"""The LLM layer: one loop asks through the response cache (generation and the judge), one
function builds backends, and the cache keys are the ones written before the layer existed."""

from __future__ import annotations

import json

import pytest

from robustclap.llm import engine
from robustclap.llm.ask import AskStats, ask_cached
from robustclap.llm.cache import ResponseCache
from robustclap.llm.model_ref import ModelRef
from robustclap.llm.served import ServedBackend
from robustclap.llm.settings import LLMSettings
from robustclap.llm.types import EndpointUnavailable, LLMRequest, LLMResponse, Sampling
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.generate import Generator, Item
from robustclap.quality.judge import Judge, judge_sampling

CAPTION = "A kettle whistles while someone chops vegetables on a wooden board."


class Script:
    """Replies from a list per item text (one per attempt); counts what it was asked."""

    def __init__(self, replies: dict[str, list[LLMResponse]], fail_after: int | None = None):
        self.replies, self.asked, self.fail_after = replies, [], fail_after

    def generate(self, requests, on_result) -> None:
        for i, req in enumerate(requests):
            if self.fail_after is not None and len(self.asked) >= self.fail_after:
                raise EndpointUnavailable("gone")
            text = req.messages[0]["content"]
            self.asked.append((text, req.seed))
            on_result(i, self.replies[text][req.seed])

    def close(self) -> None:
        pass


def _ask(backend, cache, items, max_attempts=3, stats=None):
    return ask_cached(
        backend, cache, items, key=lambda item, attempt: f"{item}:{attempt}",
        request=lambda item, attempt: LLMRequest([{"role": "user", "content": item}],
                                                 Sampling(), attempt, None),
        parse=lambda res: res.text if res.text and res.text.startswith("ok") else None,
        final=lambda parsed: parsed is not None, max_attempts=max_attempts, stats=stats)


def test_misses_are_asked_stored_and_reasked_until_they_parse(tmp_path):
    bad, good = LLMResponse("junk", "stop", 3, 2), LLMResponse("ok!", "stop", 3, 2)
    err = LLMResponse(None, None, error="http 500", retryable=True)
    backend = Script({"a": [good], "b": [bad, bad, good], "c": [bad, bad, bad], "d": [err]})
    cache = ResponseCache(tmp_path / "c.sqlite")
    stats = AskStats()
    answers = _ask(backend, cache, ["a", "b", "c", "d"], stats=stats)
    assert [(a.parsed, a.attempt, a.from_cache) for a in answers] == [
        ("ok!", 0, False), ("ok!", 2, False), (None, 2, False), (None, 0, False)]
    assert answers[3].response.error == "http 500"  # an error is final, never re-asked
    assert (stats.asked, stats.llm_calls, stats.cache_hits) == (8, 8, 0)
    again = _ask(backend, cache, ["a", "b", "c", "d"], stats=stats)
    assert len(backend.asked) == 9  # only the uncached error is asked again
    assert [(a.parsed, a.attempt) for a in again] == [(a.parsed, a.attempt) for a in answers]
    assert all(a.from_cache for a in again[:3]) and stats.cache_hits == 7


def test_a_dead_endpoint_propagates_and_keeps_what_arrived(tmp_path):
    good = LLMResponse("ok", "stop")
    cache = ResponseCache(tmp_path / "c.sqlite")
    with pytest.raises(EndpointUnavailable):
        _ask(Script({"a": [good], "b": [good]}, fail_after=1), cache, ["a", "b"])
    assert set(cache.get_many(["a:0", "b:0"])) == {"a:0"}


def test_cache_keys_are_the_ones_written_before_the_llm_layer():
    """Keys computed at 6f6d5ad's parent (before the move): a warm cache still hits."""
    cfg = GenerateConfig(backend="inprocess", levels=[1, 2], candidates=2, max_attempts=3)
    gen = Generator(cfg, None, None, ModelRef("unresolvable", "rev-1", None, "unresolvable"),
                    "run")
    item = Item({"caption": CAPTION}, 1, 0, input_text=CAPTION)
    assert gen._key(item, 0) == (
        "c528c8a5f01ef429a4b2cc79c5edce41b7aba422d0bec4b9346d21edf76a8cbd")
    judge = Judge(None, None, "fake@r1", judge_sampling(160), 0)
    assert judge.key("A dog barks.", "Barking, a dog.", 1) == (
        "61924616b3a797f329ef1b43fbeb9e71c4750020f34e90516276ac62318f7ccc")


def test_generate_config_extends_the_llm_settings_and_dumps_in_its_old_order():
    cfg = GenerateConfig(api_key="sk-1", cache_dir="/c")
    assert isinstance(cfg, LLMSettings) and cfg.resolved_api_key() == "sk-1"
    dump = json.loads(cfg.model_dump_json())
    assert dump["api_key"] is None  # never in a manifest
    assert list(dump)[:8] == ["model", "revision", "backend", "base_url", "api_key",
                              "api_key_env", "candidates", "levels"]
    assert list(dump)[-3:] == ["server_start_timeout_s", "prompt_dir", "cache_dir"]


def test_open_backend_is_the_one_builder(tmp_path):
    settings = LLMSettings(model="served-name", base_url="http://127.0.0.1:9/", api_key="k",
                           concurrency=3, request_timeout_s=7.5, max_retries=2)
    with engine.open_backend(settings, ModelRef("served-name", "served", None, "x")) as b:
        assert isinstance(b, ServedBackend)
        assert (b.base_url, b.model, b.api_key, b.concurrency, b.timeout_s, b.max_retries) == (
            "http://127.0.0.1:9", "served-name", "k", 3, 7.5, 2)
