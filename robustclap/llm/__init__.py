"""The LLM layer below the stages: generation and the judge both ask through it.

- settings.py: LLMSettings (model, backend, endpoint, client limits, cache folder)
- model_ref.py, packaged.py: `--model` resolved once per run (packaged, local folder, hub id)
- engine.py: `open_backend`, the one place a backend is built; `LazyBackend` owns its lifetime
- inprocess.py, served.py, server.py, platform.py: `vllm.LLM`, an OpenAI-compatible client,
  a launched `vllm serve`, and the CPU build's engine defaults
- ask.py: `ask_cached`, the one loop of cache lookup, ask, store, parse and re-ask
- cache.py, worker_cache.py: the response cache (SQLite) and its per-worker files under Dask
- tiny_model.py: a tiny random chat model that exercises the real engines offline
"""
