"""A fast, deterministic OpenAI-compatible chat endpoint for fault-injection runs.

Everything on robustclap's side stays the real code path (the OpenAI client in
`robustclap.llm.served`, the response cache, shards, gate, publish); only the model is replaced
by a rule that rewrites the caption in the last user message, chosen by the request's seed, so
a killed-and-rerun pipeline can be compared with one that was never killed. It also records
the Authorization headers it sees (the secrets test checks the key reaches the server).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from robustclap.quality.judge import SYSTEM as JUDGE_SYSTEM

_LEVEL1 = ("{c}", "Heard in this recording: {c}", "In the recording, {c}")
_LEVEL2 = ("One can hear that {c}", "The clip contains this: {c}", "{c} can be heard")
_JUDGE_CAPTION = re.compile(r"^Caption: (.*)$", re.M)
_JUDGE_PARAPHRASE = re.compile(r"^Paraphrase \(level \d\): (.*)$", re.M)


def judge_reply(user: str) -> str:
    """A judge-shaped JSON reply (quality/judge.py's schema): "different_scene" when a caption
    word of four letters or more is missing from the paraphrase, else "same_scene"."""
    caption = _JUDGE_CAPTION.search(user)
    para = _JUDGE_PARAPHRASE.search(user)
    if caption is None or para is None:
        return "{}"
    have = set(re.findall(r"[a-z]+", para.group(1).lower()))
    missing = [w for w in dict.fromkeys(re.findall(r"[a-z]+", caption.group(1).lower()))
               if len(w) >= 4 and w not in have]
    return json.dumps({"missing_events": missing, "added_events": [], "changed_relations": [],
                       "verdict": "different_scene" if missing else "same_scene"})


def fake_reply(messages: list[dict], seed: int | None) -> str:
    """A paraphrase-shaped JSON reply that depends only on the prompt and the seed (a judge
    reply when the system prompt is the LLM judge's)."""
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    caption = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    if system == JUDGE_SYSTEM:
        return judge_reply(caption)
    caption = caption.strip().rstrip(".")
    pick = _LEVEL2 if "level-2" in system else _LEVEL1
    text = pick[(seed or 0) % len(pick)].format(c=caption[:1].lower() + caption[1:])
    return json.dumps({"paraphrase": text[:1].upper() + text[1:] + "."})


class FakeOpenAI:
    """Serve on 127.0.0.1 (port 0 = any free port) in a background thread."""

    def __init__(self, port: int = 0):
        self.auth: list[str] = []
        self.requests = 0
        self.last_body: dict = {}  # the last request's JSON body (tests read its options)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = {"data": [{"id": "fake", "object": "model"}]} \
                    if self.path.endswith("/models") else {"status": "ok"}
                self._json(200, body)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests += 1
                    fake.last_body = req
                    fake.auth.append(self.headers.get("Authorization", ""))
                content = fake_reply(req.get("messages", []), req.get("seed"))
                n_prompt = sum(len(str(m.get("content", "")).split())
                               for m in req.get("messages", []))
                self._json(200, {
                    "id": "fake", "object": "chat.completion", "created": 0,
                    "model": req.get("model", "fake"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": n_prompt, "completion_tokens": len(content.split()),
                              "total_tokens": n_prompt + len(content.split())},
                })

            def _json(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client was killed mid-request: what chaos runs are for

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
