"""The one place a run's backend is built, and who owns its lifetime.

`open_backend` turns LLM settings and a resolved model into a ready backend: the in-process
engine, a client to the settings' `base_url`, or a `vllm serve` launched for the run (stopped
on the way out). `LazyBackend` opens it on first use, so a run whose answers are all cached
starts nothing, and keeps it for every round of a run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from robustclap.llm.model_ref import ModelRef
from robustclap.llm.settings import LLMSettings
from robustclap.llm.types import Backend


@contextlib.contextmanager
def open_backend(settings: LLMSettings, model: ModelRef,
                 log_dir: Path | None = None) -> Iterator[Backend]:
    """Yield a ready backend; an engine or server started here is shut on the way out
    (`log_dir`: where a launched server writes `vllm-serve.log`)."""
    # vLLM, the OpenAI client and httpx load in seconds: imported only for the backend in use
    if settings.backend == "inprocess":
        from robustclap.llm.inprocess import InProcessBackend

        backend = InProcessBackend(model.name, settings.engine_args, settings.chunk_size)
        try:
            yield backend
        finally:
            backend.close()
        return
    from robustclap.llm.served import ServedBackend

    if settings.base_url:
        yield ServedBackend.from_config(settings.base_url, settings)
        return
    from robustclap.llm.server import VllmServer

    server = VllmServer(model.name, served_name=settings.model,
                        engine_args=settings.engine_args,
                        log_path=log_dir / "vllm-serve.log" if log_dir else None,
                        start_timeout_s=settings.server_start_timeout_s)
    with server as url:
        yield ServedBackend.from_config(url, settings)


class LazyBackend:
    """Opens the configured backend on first use and keeps it for several runs (the flow's
    regeneration rounds share one `vllm serve`); a run with nothing to ask never starts one."""

    def __init__(self, settings: LLMSettings, log_dir: Path, model: ModelRef):
        self.cfg, self.out_dir, self.model = settings, log_dir, model
        self._stack = contextlib.ExitStack()
        self._backend = None

    def open(self) -> Backend:
        """The backend, started now if it is not running yet."""
        if self._backend is None:
            self._backend = self._stack.enter_context(
                open_backend(self.cfg, self.model, self.out_dir))
        return self._backend

    def url(self) -> str:
        """The served endpoint's base URL (launching `vllm serve` if needed)."""
        if self.cfg.base_url:
            return self.cfg.base_url
        return self.open().base_url

    def generate(self, requests, on_result) -> None:
        self.open().generate(requests, on_result)

    def close(self) -> None:
        self._stack.close()
        self._backend = None

    def __enter__(self) -> LazyBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
