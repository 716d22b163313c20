"""The optional LLM judge gate: structured verdicts, cached like generation, fail-closed."""

from __future__ import annotations

import json

from robustclap.llm.cache import ResponseCache
from robustclap.llm.types import LLMResponse
from robustclap.quality.config import load_config
from robustclap.quality.decide import apply_judge
from robustclap.quality.judge import DIFFERENT, SAME, Judge, parse_reply


class ScriptedBackend:
    """Answers each request from a script keyed by the candidate text (counts its calls)."""

    def __init__(self, replies: dict[str, LLMResponse]) -> None:
        self.replies = replies
        self.requests = 0

    def generate(self, requests, on_result) -> None:
        for i, req in enumerate(requests):
            self.requests += 1
            user = req.messages[-1]["content"]
            on_result(i, next(r for k, r in self.replies.items() if k in user))

    def close(self) -> None:
        pass


def _reply(verdict: str, **kw) -> LLMResponse:
    body = {"missing_events": [], "added_events": [], "changed_relations": [],
            "verdict": verdict, **kw}
    return LLMResponse(json.dumps(body), "stop", completion_tokens=20)


def test_replies_are_read_strictly():
    assert parse_reply(_reply(SAME)).same
    v = parse_reply(_reply(DIFFERENT, added_events=["a woman"]))
    assert not v.same and v.added == ["a woman"]
    assert parse_reply(LLMResponse('{"verdict": "same_sc', "length")).verdict is None
    assert parse_reply(LLMResponse("sure!", "stop")).error.startswith("invalid JSON")
    assert parse_reply(LLMResponse('{"verdict": "maybe"}', "stop")).verdict is None


def test_judge_gate_caches_and_fails_closed(tmp_path, case):
    passing = {**case.PASSING_STRUCTURE, "sbert_cos": 0.95, "bertscore_f1": 0.95}
    backend = ScriptedBackend({"hops": _reply(DIFFERENT, missing_events=["hoot"]),
                               "steadily, while": _reply(SAME),
                               "garbled": LLMResponse("{", "length")})
    cache = ResponseCache(tmp_path / "judge.sqlite")
    judge = Judge(backend, cache, "scripted")
    cfg = load_config()
    cfg = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={"enabled": True})})
    caption = "Crickets chirp steadily and an owl hoots once."
    texts = ["The cricket chirps steadily, while the owl hops once.",
             "The crickets chirp steadily, while an owl hoots once.",
             "garbled", "never judged"]
    items = [(caption, t, 1, dict(passing), []) for t in texts[:3]]
    items.append((caption, texts[3], 1, dict(passing), ["sbert"]))
    apply_judge(judge, items, cfg)
    assert [it[4] for it in items] == [["judge"], [], ["judge"], ["sbert"]]
    assert backend.requests == 3
    assert json.loads(items[0][3]["judge_detail"])["missing"] == ["hoot"]
    again = [(caption, t, 1, dict(passing), []) for t in texts[:2]]
    apply_judge(judge, again, cfg)
    assert backend.requests == 3  # both answers came from the cache
    assert judge.judge([(caption, texts[2], 1)])[0].verdict is None  # read again: still fails
    assert backend.requests == 3
    cache.close()


def test_judge_runs_on_the_real_engine(inprocess_backend, tmp_path):
    """The tiny random model's reply is nonsense, but it goes through vLLM's structured
    output, the cache and the strict reader end to end."""
    cache = ResponseCache(tmp_path / "judge.sqlite")
    judge = Judge(inprocess_backend, cache, "tiny")
    verdicts = judge.judge([("A dog barks.", "Barking, a dog.", 1)])
    assert len(verdicts) == 1 and judge.calls == 1
    assert verdicts[0].verdict in (SAME, DIFFERENT, None)
    assert verdicts[0].verdict is not None or verdicts[0].error
    assert judge.judge([("A dog barks.", "Barking, a dog.", 1)])[0].from_cache
    cache.close()
