"""Fixtures for the generation tests: a fault-injecting HTTP proxy in front of a real `vllm serve`.

It forwards requests unchanged, except that it can answer the first N chat requests with an
HTTP error, stall them past the client's timeout, or stop listening after N requests (a server
that dies mid-run).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest


class FaultProxy:
    def __init__(self, upstream: str, fail_first: int = 0, fail_status: int = 500,
                 stall_first: int = 0, stall_s: float = 0.0, die_after: int | None = None):
        self.upstream = upstream.rstrip("/")
        self.fail_first, self.fail_status = fail_first, fail_status
        self.stall_first, self.stall_s = stall_first, stall_s
        self.die_after = die_after
        self.requests = 0
        self.forwarded = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy._lock:
                    proxy.requests += 1
                    n = proxy.requests
                if proxy.die_after is not None and n > proxy.die_after:
                    threading.Thread(target=proxy.stop, daemon=True).start()
                    self.close_connection = True
                    return
                if n <= proxy.stall_first:
                    time.sleep(proxy.stall_s)
                if n <= proxy.fail_first:
                    payload = b'{"error": {"message": "injected fault"}}'
                    self.send_response(proxy.fail_status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                resp = httpx.post(proxy.upstream + self.path, content=body, timeout=300,
                                  headers={"Content-Type": "application/json"})
                with proxy._lock:
                    proxy.forwarded += 1
                self.send_response(resp.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                """A client that gave up (timeout) closes its socket: expected here."""

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.server.shutdown()
            self.server.server_close()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def fault_proxy():
    """The FaultProxy class; tests use it as `with fault_proxy(upstream, ...) as proxy:`."""
    return FaultProxy
