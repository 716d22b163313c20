"""The LLM judge on a served endpoint, and on the run's own engine in `robustclap run`.

`ServedJudge` asks any OpenAI-compatible endpoint (`vllm serve`, or the `--base-url` a run
generates with) through the same client as generation (robustclap.llm.served: bounded
concurrency, retries on transient errors, structured output from the judge's JSON schema), with
the judge's versioned prompt and its response cache (quality/judge.py).

`run_judge` is what the paraphrase flow's gate uses when the gate config switches the judge on:
the run's engine itself (the served client to its endpoint, or the in-process vLLM), opened
lazily by that engine, so a rerun whose verdicts are all cached starts nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from robustclap.contracts.errors import RobustclapError
from robustclap.llm.cache import ResponseCache
from robustclap.llm.model_ref import ModelRef
from robustclap.llm.served import ServedBackend
from robustclap.llm.types import Backend
from robustclap.quality.config import GateConfig
from robustclap.quality.judge import Judge, judge_sampling


class ServedJudge:
    """A Judge over the OpenAI-compatible endpoint at `base_url` serving `model`, its answers
    cached at `cache_path` under `identity` (default `model`: give the revision too when the
    endpoint's weights can change); a context manager that closes the cache."""

    def __init__(self, base_url: str, model: str, cache_path: str | Path,
                 identity: str | None = None, max_tokens: int = 160, seed: int = 0,
                 api_key: str = "EMPTY", concurrency: int = 8, timeout_s: float = 120.0,
                 max_retries: int = 4) -> None:
        self.cache = ResponseCache(cache_path)
        self.backend = ServedBackend(base_url, model, api_key, concurrency, timeout_s,
                                     max_retries)
        self.judge = Judge(self.backend, self.cache, identity or model, judge_sampling(max_tokens),
                           seed)

    def __enter__(self) -> Judge:
        return self.judge

    def __exit__(self, *exc: object) -> None:
        self.cache.close()


@contextmanager
def run_judge(config: GateConfig, engine: Backend | None, model: ModelRef | None,
              cache_path: str | Path) -> Iterator[Judge | None]:
    """The judge of a run's gate: None when the config leaves it off; else a Judge on the
    run's `engine` (model `model`), cached at `cache_path`. `judge.model`, when the config
    names one, must be the run's model: the run's engine serves no other."""
    judge = config.judge
    if not judge.enabled:
        yield None
        return
    if engine is None or model is None:
        raise RobustclapError("the gate config switches the LLM judge on (judge.enabled) but "
                              "this gate has no engine: run it in `robustclap run`, or pass "
                              "--judge-model MODEL to `robustclap gate`")
    if judge.model and judge.model != model.reference:
        raise RobustclapError(
            f"judge.model is {judge.model!r} but the run's engine serves {model.reference!r}: "
            "the run judges with its own engine; remove judge.model or make it the run's model")
    cache = ResponseCache(cache_path)
    try:
        yield Judge(engine, cache, f"{model.reference}@{model.revision}",
                    judge_sampling(judge.max_tokens), judge.seed)
    finally:
        cache.close()
