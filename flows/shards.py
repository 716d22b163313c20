"""Generation shards as Prefect tasks: one `generate-shard` task for the thread runner and Dask.

`run_generation` plans the shards; the flow's shard runner counts the committed ones and turns
every pending one into a task given a `ShardJob`, plain data. On the thread runner the task runs
in the flow's process, one shard at a time, with the flow's live objects lent to it (engine,
response cache, progress bar: `ShardResources`). On Dask every job is submitted at once and
each worker builds its own: a client to the served endpoint and a response-cache file of its
own, which the flow merges into the shared cache when no task is in flight.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from robustclap.contracts import layout
from robustclap.contracts.progress import GenerationUpdate
from robustclap.contracts.schema import col
from robustclap.llm.cache import ResponseCache
from robustclap.llm.engine import LazyBackend, open_backend
from robustclap.llm.model_ref import ModelRef
from robustclap.llm.types import Backend
from robustclap.llm.worker_cache import WorkerCache, merge_worker_caches, worker_cache_path
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.generate import Generator, Progress, Shard, run_shards

LLM_LIMIT = "robustclap-llm"  # global concurrency limit on the LLM endpoint (optional)
Wanted = dict[tuple[str, int], tuple[str | None, str | None]]
ShardRunner = Callable[[list[Shard], Generator, "Wanted | set | None"], None]


@dataclass(frozen=True)
class ShardJob:
    """One pending shard and everything about the run it belongs to, as plain data.

    It pickles to a Dask worker as it is. The config travels without the API key: a worker
    reads the key from the environment variable the config names (run_paraphrase sets it).
    """

    config: GenerateConfig
    model: ModelRef
    run_id: str
    round: int
    shard: Shard
    wanted: Wanted | None  # this shard's (caption, level) → (previous, feedback), or all
    url: str | None = None  # the served endpoint a worker connects to (Dask)
    limited: bool = False  # acquire the LLM_LIMIT slot (it exists: llm_limit_in_use)

    @classmethod
    def of(cls, gen: Generator, shard: Shard, wanted: Wanted | set | None,
           url: str | None) -> ShardJob:
        mine = None
        if wanted is not None:
            ids = {c[col.caption_id] for c in shard.captions}
            pairs = wanted if isinstance(wanted, dict) else dict.fromkeys(wanted, (None, None))
            mine = {k: v for k, v in pairs.items() if k[0] in ids}
        return cls(gen.cfg.model_copy(update={"api_key": None}), gen.model, gen.run_id,
                   gen.round, shard, mine, url)


@dataclass(frozen=True)
class ShardResources:
    """Live objects a shard task works with: the flow's own (thread runner) or a worker's."""

    backend: Backend
    cache: ResponseCache | WorkerCache
    progress: Progress | None = None


@contextlib.contextmanager
def worker_resources(job: ShardJob) -> Iterator[ShardResources]:
    """A worker's own client to `job.url` and its own cache file (llm/worker_cache.py)."""
    if job.url is None:
        raise ValueError("a shard job run without the flow's resources needs the endpoint url")
    shared = job.config.cache_path() / layout.LLM_CACHE_FILE  # read here, merged by the flow
    cache = WorkerCache(shared, worker_cache_path(shared, job.run_id, job.round,
                                                  job.shard.index))
    settings = job.config.model_copy(update={"backend": "served", "base_url": job.url})
    try:
        with open_backend(settings, job.model) as backend:
            yield ShardResources(backend, cache)
    finally:
        cache.close()


def _endpoint_down(task, run, state) -> bool:  # noqa: ANN001 - Prefect's retry hook
    return "EndpointUnavailable" in str(state.message)


# NO_CACHE: the inputs are never hashed (the flow's live objects cannot be, and a shard's
# committed Parquet file, named by its content key, is its persisted result anyway).
@task(name="generate-shard", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10,
      retry_condition_fn=_endpoint_down)
def generate_shard(job: ShardJob, resources: ShardResources | None = None) -> dict:
    """One shard of captions through the LLM, committed atomically; returns its counts."""
    with contextlib.ExitStack() as stack:
        res = resources or stack.enter_context(worker_resources(job))
        gen = Generator(job.config, res.backend, res.cache, job.model, job.run_id, job.round,
                        res.progress)
        # only a limit that exists is asked for: Prefect logs a warning for every task that
        # asks for a missing one
        with (concurrency(LLM_LIMIT, occupy=1, strict=False) if job.limited
              else contextlib.nullcontext()):
            run_shards([job.shard], gen, job.wanted)
        return gen.stats.as_dict()


def llm_limit_in_use(limit: int | None) -> bool:
    """Whether shard tasks take a slot of the global concurrency limit LLM_LIMIT: with
    `limit` (the run config's `llm_limit`) it is created on first use, or set to that limit;
    without, one made beforehand (`prefect gcl create robustclap-llm --limit 4`) is used as it
    is, and when there is none the limit is not requested at all."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        if limit is not None:
            client.upsert_global_concurrency_limit_by_name(LLM_LIMIT, limit)
            return True
        try:
            client.read_global_concurrency_limit_by_name(LLM_LIMIT)
        except ObjectNotFound:
            return False
        return True


def shard_runner(engine: LazyBackend, on_dask: bool, limited: bool = False) -> ShardRunner:
    """run_generation's shard runner in the flow: committed shards are counted here, every pending
    one is a generate-shard task (thread runner: one at a time, with the flow's engine; Dask:
    all submitted at once to `engine`'s endpoint, launched only if there is work); `limited`:
    each task takes a slot of LLM_LIMIT."""

    def run(shards: list[Shard], gen: Generator, wanted: Wanted | set | None) -> None:
        shared = gen.cfg.cache_path() / layout.LLM_CACHE_FILE
        if on_dask:
            merge_worker_caches(shared)  # what a killed run's tasks left behind
        run_shards([s for s in shards if s.done], gen, wanted)
        pending = [s for s in shards if not s.done]
        bar = gen.progress if isinstance(gen.progress, GenerationUpdate) else None
        if bar:
            bar.shards(len(pending))
        url = engine.url() if on_dask and pending else None
        jobs = [replace(ShardJob.of(gen, s, wanted, url), limited=limited) for s in pending]

        def named(job: ShardJob):
            return generate_shard.with_options(
                task_run_name=f"shard-r{job.round}-{job.shard.index:05d}")

        if on_dask:
            futures = [named(job).submit(job) for job in jobs]
            results = (future.result() for future in futures)
        else:
            mine = ShardResources(gen.backend, gen.cache, gen.progress)
            results = (named(job)(job, mine) for job in jobs)
        for stats in results:
            if bar:
                if on_dask:  # rows are counted on the workers: the bar moves a shard at a time
                    bar(stats["rows_written"], stats["completion_tokens"])
                bar.shard_done()
            gen.stats.add(stats)
        if on_dask:
            merge_worker_caches(shared)  # no task in flight: the flow is the only writer

    return run
