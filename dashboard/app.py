"""The local web app: one server-rendered page per request, filters as query parameters.

A small threaded HTTP server from the standard library is enough for one user looking at a
corpus; every request opens its own DuckDB connection (connections are not thread-safe) and
reads the Parquet files directly, so a new version shows up without a restart.
"""

from __future__ import annotations

import threading
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlparse

from robustclap.contracts.errors import RobustclapError
from robustclap.dashboard import overview, page, queries, review, review_page
from robustclap.dashboard.collection import corpora, index_page, is_corpus
from robustclap.dashboard.corpus import check_corpus, list_versions, open_version
from robustclap.dashboard.failures import bind, error_page
from robustclap.dashboard.queries import Filters
from robustclap.quality.decide import ALL_GATES

CHART_TAIL = 0.005  # histogram axes span the 0.5%..99.5% quantiles (outliers in end bins)


def _int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise RobustclapError(f"expected a number, got {value!r}") from exc


def _page(value: str | None) -> int:
    n = _int(value) or 0
    if n < 0:
        raise RobustclapError(f"page {n}: pages start at 0")
    return n


def filters(params: dict[str, str]) -> Filters:
    """The filters of a request (the same for the page, its charts and the CSV)."""
    gate = params.get("gate") or None
    if gate is not None and gate not in ALL_GATES:
        raise RobustclapError(f"unknown gate {gate!r}")
    return Filters(level=_int(params.get("level")), split=params.get("split") or None,
                   gate=gate, text=params.get("q") or None, page=_page(params.get("page")))


def render(root: Path, params: dict[str, str], home: bool = False) -> str:
    """The whole dashboard page for the given query parameters (`home`: with a link to the
    list of corpora it was opened from)."""
    v = open_version(root, _int(params.get("version")))
    compare = _int(params.get("compare"))
    f = filters(params)
    r_page = _page(params.get("rpage"))
    con = queries.connect()
    try:
        f = queries.prepare(con, v, f)
        ov = overview.build(con, v, f)
        ranges, hists = overview.distributions(con, v, ov, f=f, tail=CHART_TAIL)
        total, rows = queries.side_by_side(con, v, f)
        r_total, r_rows = review.rejected_with_scores(con, v, f, f.limit, r_page * f.limit)
        gate_cfg = v.gate_config()
        parts = [
            '<p><a id="all-corpora" href="../">all corpora</a></p>' if home else "",
            f"<h1>{escape(root.name)} corpus quality</h1>",
            page.filter_form(v.number, compare, list_versions(root), f, ALL_GATES,
                             queries.splits(con, v)),
        ]
        if params.get("caption"):
            parts.append(review_page.candidate_view(
                params["caption"], review.candidates_of(con, v, params["caption"]),
                ALL_GATES, gate_cfg))
        parts += [
            page.overview(ov), page.distributions(ov, ranges, hists, open_ends=True),
            review_page.examples(params, f, total, rows, r_total, r_rows, gate_cfg, r_page),
            review_page.failing(params, review.failing_examples(con, v, f), ALL_GATES,
                                gate_cfg),
        ]
        if compare is not None and compare != v.number:
            old = open_version(root, compare)
            counts, changes = queries.status_changes(con, old, v)
            parts.append(page.drift(old.number, v.number, queries.pass_rates(con, old),
                                    ov.pass_rates, queries.score_quantiles(con, old),
                                    queries.score_quantiles(con, v), counts, changes))
        parts.append(page.training(v.evaluation()))
    finally:
        con.close()
    return page.document(f"{root.name} v{v.number}", "".join(parts))


def make_handler(root: Path, collection: bool = False) -> type[BaseHTTPRequestHandler]:
    """Requests for one corpus at `root`, or (`collection`) for a folder of corpora: `/` lists
    them and `/NAME/...` is corpus NAME's dashboard (its links are relative, so they stay
    inside it)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlparse(self.path)
            if url.path == "/healthz":
                self._send(HTTPStatus.OK, "ok", "text/plain")
                return
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            corpus, path = root, url.path
            if collection:
                found = corpora(root)
                name, slash, rest = url.path.lstrip("/").partition("/")
                if not name:
                    self._send(HTTPStatus.OK, index_page(root, found))
                    return
                name = unquote(name)
                if name not in found:
                    self._send(HTTPStatus.NOT_FOUND, f"no corpus {name!r} in {root}",
                               "text/plain")
                    return
                if not slash:  # /NAME -> /NAME/, so the page's relative links stay inside
                    self._redirect(f"/{quote(name)}/" + (f"?{url.query}" if url.query else ""))
                    return
                corpus, path = found[name], "/" + rest
            if path == "/rejected.csv":
                self._csv(corpus, params)
                return
            if path != "/":
                self._send(HTTPStatus.NOT_FOUND, "not found", "text/plain")
                return
            try:
                body = render(corpus, params, home=collection)
            except Exception as exc:  # noqa: BLE001 - every failure is a page (failures.py)
                self._send(*error_page(exc))
                return
            self._send(HTTPStatus.OK, body)

        def _redirect(self, location: str) -> None:
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _csv(self, root: Path, params: dict[str, str]) -> None:
            """Every filtered rejected row, streamed (HTTP/1.0: the end of the body is the
            end of the connection, so no length is needed up front)."""
            try:
                v = open_version(root, _int(params.get("version")))
                f = filters(params)
            except RobustclapError as exc:
                self._send(HTTPStatus.BAD_REQUEST, str(exc), "text/plain")
                return
            con = queries.connect()
            try:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Disposition", f'attachment; filename="'
                                 f'{root.name}-v{v.number}-rejected.csv"')
                self.end_headers()
                for chunk in review.rejected_csv(con, v, f):
                    self.wfile.write(chunk)
            finally:
                con.close()

        def _send(self, code: HTTPStatus, body: str, ctype: str = "text/html") -> None:
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", f"{ctype}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # one line per request would drown the terminal

    return Handler


def make_server(root: Path, host: str = "127.0.0.1", port: int = 8501) -> ThreadingHTTPServer:
    """Bind (port 0 = any free port); check the corpus (or that a folder of corpora holds
    one) first so a typo fails at once."""
    root = Path(root)
    collection = root.is_dir() and not is_corpus(root) and bool(corpora(root))
    if not collection:
        check_corpus(root)
    server = bind(host, port, make_handler(root, collection))
    server.daemon_threads = True
    return server


def serve_in_thread(root: Path, host: str = "127.0.0.1", port: int = 0
                    ) -> tuple[ThreadingHTTPServer, str]:
    """Start in a background thread (tests, notebooks); returns the server and its URL."""
    server = make_server(root, host, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}/"
