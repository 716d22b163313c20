"""LLM backends behind one interface: served (OpenAI-compatible, e.g. `vllm serve`) and
in-process (`vllm.LLM`)."""
