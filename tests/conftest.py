"""Shared fixtures: real data location, one tiny LLM, one vLLM engine and one `vllm serve`
per test session (engine start is the slow part, so every test shares them)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ROBUSTCLAP_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect keeps its database, results and settings per test session, never in ~/.prefect
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="robustclap-prefect-"))
os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH",
                      os.path.join(os.environ["PREFECT_HOME"], "storage"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real AudioCaps, Clotho, ESC-50, paraphrase pairs), or skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from robustclap.llm.tiny_model import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llm"))


@pytest.fixture(scope="session")
def vllm_server(tiny_llm: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real `vllm serve` of the tiny model on 127.0.0.1, served as model name "tiny"."""
    from robustclap.llm.server import VllmServer

    log = tmp_path_factory.mktemp("vllm-serve") / "server.log"
    server = VllmServer(str(tiny_llm), served_name="tiny", engine_args={"max_model_len": 2048},
                        log_path=log, start_timeout_s=600)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def inprocess_backend(tiny_llm: Path):
    """The real vllm.LLM engine on the tiny model (one per session)."""
    from robustclap.llm.engine import open_backend
    from robustclap.llm.model_ref import resolve_llm_model
    from robustclap.llm.settings import LLMSettings

    settings = LLMSettings(model=str(tiny_llm), backend="inprocess",
                           engine_args={"max_model_len": 2048})
    with open_backend(settings, resolve_llm_model(settings)) as backend:
        yield backend


@pytest.fixture(scope="session")
def packaged_model() -> Path:
    """The light packaged model (SmolLM2-135M-Instruct), converted once into the robustclap
    cache (reused across sessions, as users get it). Tests run it, not the default Qwen (1 GB
    of wheels and 11 GB to convert): the packaged path is the same code for both."""
    from robustclap.llm.model_ref import resolve_model
    from robustclap.llm.packaged import LIGHT_PACKAGED

    return Path(resolve_model(LIGHT_PACKAGED).name)
