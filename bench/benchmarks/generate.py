"""1. generate overhead: `robustclap generate` (run_generate, in-process backend) vs a bare
`vllm.LLM.chat` on the identical request set (same engine, prompts, seeds, sampling,
structured output), engine start excluded from both; optionally the served backend vs a bare
AsyncOpenAI client at the same concurrency against the same `vllm serve`.

max_attempts=1 makes the toolkit's request set exactly the baseline's (attempt 0 of every
(caption, level, candidate)); each toolkit run gets a fresh response cache and output folder,
so it asks every request. The prefix cache is reset before every run of either side.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from robustclap.bench.common import engine_args, llm_setup, release_engines
from robustclap.bench.harness import Goal, Result, alternate
from robustclap.contracts.schema import col
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.generate import derive_seed
from robustclap.pipeline.ingest import ingest
from robustclap.pipeline.parse import REPLY_SCHEMA
from robustclap.prompts import load_template

LEVELS = (1, 2)


def requests_for(csv: Path) -> list[tuple[list[dict], int]]:
    """(messages, seed) of every attempt-0 request the toolkit sends, built the plain way."""
    caps = ingest(csv).captions
    out = []
    templates = {lv: load_template(lv) for lv in LEVELS}
    for text in caps[col.caption]:
        for lv in LEVELS:
            out.append((templates[lv].messages(text), derive_seed(text, lv, 0, 0)))
    return out


def sampling_params(seed: int, cfg: GenerateConfig):
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    return SamplingParams(temperature=cfg.sampling.temperature, top_p=cfg.sampling.top_p,
                          max_tokens=cfg.sampling.max_tokens, seed=seed,
                          structured_outputs=StructuredOutputsParams(json=REPLY_SCHEMA))


def make_cfg(model: str, max_tokens: int, cache_dir: Path, **kw) -> GenerateConfig:
    return GenerateConfig(model=model, max_attempts=1, sampling={"max_tokens": max_tokens},
                          cache_dir=str(cache_dir), levels=list(LEVELS), candidates=1, **kw)


def run(workdir: Path, **opts) -> Result:

    setup = llm_setup(workdir, opts)
    model, csv, max_tokens, repeats = setup.model, setup.csv, setup.max_tokens, setup.repeats
    reqs = requests_for(csv)
    res = Result("generate", "generate overhead: robustclap generate vs bare vllm.LLM.chat",
                 params={"captions": setup.captions, "levels": list(LEVELS),
                         "requests": len(reqs), "max_tokens": max_tokens, "repeats": repeats,
                         "model": model, "engine_args": setup.backend.engine_args})
    res.metrics["engine_start_s (excluded)"] = setup.start_s
    _inprocess(res, setup, workdir, reqs)
    del setup  # the last reference to the engine here: release_engines can shut it down
    release_engines()  # the served comparison runs with no idle in-process engine beside it
    if opts.get("size") != "smoke" and not opts.get("skip_served"):
        _served(res, opts, workdir, model, csv, reqs, max_tokens, repeats)
    return res


def _inprocess(res: Result, setup, workdir: Path, reqs: list) -> None:
    from robustclap.pipeline.runner import run_generate

    model, csv, max_tokens, repeats = setup.model, setup.csv, setup.max_tokens, setup.repeats
    backend = setup.backend
    llm = backend.llm
    base_cfg = make_cfg(model, max_tokens, workdir / "unused", backend="inprocess")
    tokens = {"toolkit": [], "baseline": []}
    runs = {"i": 0}

    def toolkit() -> float:
        runs["i"] += 1
        d = workdir / f"tk{runs['i']}"
        shutil.rmtree(d, ignore_errors=True)
        cfg = make_cfg(model, max_tokens, d / "cache", backend="inprocess")
        llm.reset_prefix_cache()
        t = time.perf_counter()
        m = run_generate(csv, d / "out", cfg, backend=backend)
        wall = time.perf_counter() - t
        assert m.counts["llm_calls"] == len(reqs), (m.counts["llm_calls"], len(reqs))
        tokens["toolkit"].append(m.counts["completion_tokens"])
        shutil.rmtree(d, ignore_errors=True)
        return wall

    def baseline() -> float:
        llm.reset_prefix_cache()
        t = time.perf_counter()
        outs = llm.chat([m for m, _ in reqs],
                        sampling_params=[sampling_params(s, base_cfg) for _, s in reqs],
                        use_tqdm=False)
        wall = time.perf_counter() - t
        tokens["baseline"].append(sum(len(o.outputs[0].token_ids) for o in outs))
        return wall

    comp = alternate(toolkit, baseline, repeats=repeats, warmup=1)
    res.comparisons["inprocess_wall_s"] = comp
    res.metrics["completion_tokens_toolkit"] = tokens["toolkit"]
    res.metrics["completion_tokens_baseline"] = tokens["baseline"]
    same = len(set(tokens["toolkit"] + tokens["baseline"])) == 1
    res.metrics["identical_token_counts"] = same
    if comp.baseline_median:
        res.metrics["baseline_completion_tokens_per_s"] = round(
            tokens["baseline"][-1] / comp.baseline_median, 1)
    res.goals.append(Goal("in-process wall ratio (toolkit / bare LLM.chat)", comp.ratio, 1.05))
    if not same:
        res.notes.append("completion token counts differ between runs (see metrics)")
    res.notes.append("toolkit time = the whole run_generate call (ingest, prompts, cache, "
                     "parse, Parquet shards, manifest); baseline = one llm.chat over the same "
                     "requests, prompts built beforehand (untimed)")
    res.metrics["toolkit_only_s_per_run (null engine)"] = _null_engine_overhead(
        csv, workdir, model, max_tokens, repeats)
    if comp.baseline_median:
        res.metrics["toolkit_only_share_of_bare_run"] = round(
            res.metrics["toolkit_only_s_per_run (null engine)"] / comp.baseline_median, 4)


class _NullBackend:
    """Answers every request at once with a valid reply: what is left is the toolkit's own
    work per run (ingest, prompts, cache, parse, shards, manifest)."""

    def generate(self, requests, on_result) -> None:
        from robustclap.llm.types import LLMResponse

        for i, _ in enumerate(requests):
            on_result(i, LLMResponse('{"paraphrase": "a dog barks twice"}', "stop", 700, 12))

    def close(self) -> None:
        pass


def _null_engine_overhead(csv: Path, workdir: Path, model: str, max_tokens: int,
                          repeats: int) -> float:
    from robustclap.bench.harness import median
    from robustclap.pipeline.runner import run_generate

    times = []
    for i in range(repeats + 1):
        d = workdir / f"null{i}"
        shutil.rmtree(d, ignore_errors=True)
        cfg = make_cfg(model, max_tokens, d / "cache", backend="inprocess")
        t = time.perf_counter()
        run_generate(csv, d / "out", cfg, backend=_NullBackend())
        times.append(time.perf_counter() - t)
        shutil.rmtree(d, ignore_errors=True)
    return round(median(times[1:]), 4)


def _served(res: Result, opts: dict, workdir: Path, model: str, csv: Path, reqs: list,
            max_tokens: int, repeats: int) -> None:
    import openai

    from robustclap.llm.server import VllmServer
    from robustclap.pipeline.runner import run_generate

    concurrency = 32
    server = VllmServer(model, served_name="bench", engine_args=engine_args(opts),
                        log_path=workdir / "vllm-serve.log", start_timeout_s=900)
    t = time.perf_counter()
    url = server.start()
    res.metrics["served_engine_start_s (excluded)"] = round(time.perf_counter() - t, 1)
    tokens = {"toolkit": [], "baseline": []}
    runs = {"i": 0}
    try:
        def toolkit() -> float:
            runs["i"] += 1
            d = workdir / f"sv{runs['i']}"
            cfg = make_cfg(model, max_tokens, d / "cache", backend="served", base_url=url,
                           concurrency=concurrency)
            cfg = cfg.model_copy(update={"model": "bench"})
            t = time.perf_counter()
            m = run_generate(csv, d / "out", cfg)
            wall = time.perf_counter() - t
            tokens["toolkit"].append(m.counts["completion_tokens"])
            shutil.rmtree(d, ignore_errors=True)
            return wall

        async def bare() -> int:
            client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="EMPTY")
            sem = asyncio.Semaphore(concurrency)
            rf = {"type": "json_schema", "json_schema": {"name": "paraphrase",
                                                         "schema": REPLY_SCHEMA, "strict": True}}

            async def one(messages, seed) -> int:
                async with sem:
                    r = await client.chat.completions.create(
                        model="bench", messages=messages, seed=seed, temperature=0.8,
                        top_p=0.95, max_tokens=max_tokens, response_format=rf)
                    return r.usage.completion_tokens

            try:
                return sum(await asyncio.gather(*(one(m, s) for m, s in reqs)))
            finally:
                await client.close()

        def baseline() -> float:
            t = time.perf_counter()
            tokens["baseline"].append(asyncio.run(bare()))
            return time.perf_counter() - t

        comp = alternate(toolkit, baseline, repeats=repeats, warmup=1)
    finally:
        server.stop()
    res.comparisons["served_wall_s"] = comp
    res.metrics["served_completion_tokens_toolkit"] = tokens["toolkit"]
    res.metrics["served_completion_tokens_baseline"] = tokens["baseline"]
    res.metrics["served_concurrency"] = concurrency
    res.goals.append(Goal("served wall ratio (toolkit / bare AsyncOpenAI)", comp.ratio, 1.05))
