"""In-process backend: `vllm.LLM` for single-node batch runs.

Requests go to the engine in chunks so that finished work is handed back (and cached) as it
completes; engine arguments (tensor_parallel_size, max_model_len, dtype, …) pass through.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from robustclap.contracts.errors import RobustclapError
from robustclap.llm.platform import default_engine_args, engine_start_message
from robustclap.llm.types import LLMRequest, LLMResponse, ResultCallback


class InProcessBackend:
    def __init__(self, model: str, engine_args: dict | None = None, chunk_size: int = 512):
        from vllm import LLM

        args = {**default_engine_args(model), **(engine_args or {})}
        self.engine_args = args
        self.chunk_size = chunk_size
        try:
            self.llm = LLM(model=model, **args)
        except Exception as exc:  # noqa: BLE001 - any engine start failure → one clear message
            raise RobustclapError(engine_start_message(model, args, exc)) from exc

    @staticmethod
    def _params(req: LLMRequest):
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        structured = StructuredOutputsParams(json=req.json_schema) if req.json_schema else None
        return SamplingParams(
            temperature=req.sampling.temperature, top_p=req.sampling.top_p,
            max_tokens=req.sampling.max_tokens, seed=req.seed, structured_outputs=structured,
        )

    def _run(self, reqs: Sequence[LLMRequest]) -> list[LLMResponse]:
        start = time.perf_counter()
        outs = self.llm.chat(
            [r.messages for r in reqs], sampling_params=[self._params(r) for r in reqs],
            use_tqdm=False,
        )
        wall = time.perf_counter() - start
        return [
            LLMResponse(
                text=o.outputs[0].text, finish_reason=o.outputs[0].finish_reason,
                prompt_tokens=len(o.prompt_token_ids or []),
                completion_tokens=len(o.outputs[0].token_ids), latency_s=wall,
            )
            for o in outs
        ]

    def generate(self, requests: Sequence[LLMRequest], on_result: ResultCallback) -> None:
        for lo in range(0, len(requests), self.chunk_size):
            chunk = requests[lo : lo + self.chunk_size]
            try:
                results = self._run(chunk)
            except ValueError:
                # One bad request (e.g. a prompt longer than max_model_len) fails the whole
                # batch: isolate it so every other request still gets its answer.
                results = []
                for req in chunk:
                    try:
                        results.extend(self._run([req]))
                    except ValueError as exc:
                        results.append(LLMResponse(None, None, error=f"rejected: {exc}"[:500]))
            for i, res in enumerate(results):
                on_result(lo + i, res)

    def close(self) -> None:
        del self.llm
