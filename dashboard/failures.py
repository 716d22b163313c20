"""What the dashboard answers when something fails: a page with the reason, never a dropped
connection, and a bind problem as one message instead of a socket traceback."""

from __future__ import annotations

import socket
import sys
import traceback
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from robustclap.contracts.errors import RobustclapError
from robustclap.corpus.versions import BrokenVersion
from robustclap.dashboard import page


def _unreadable(exc: BaseException) -> bool:
    import duckdb
    import pyarrow as pa

    return isinstance(exc, duckdb.Error | pa.ArrowException | OSError)


def error_page(exc: BaseException) -> tuple[HTTPStatus, str]:
    """(status, HTML) for a failed request.

    A bad parameter is the client's error (400); a broken version or an unreadable table is
    the corpus's (500, saying which); anything else is a bug (500, logged with its traceback).
    """
    if isinstance(exc, BrokenVersion):
        code, title, text = HTTPStatus.INTERNAL_SERVER_ERROR, "broken corpus version", str(exc)
    elif isinstance(exc, RobustclapError):
        code, title, text = HTTPStatus.BAD_REQUEST, "error", str(exc)
    elif _unreadable(exc):
        code, title = HTTPStatus.INTERNAL_SERVER_ERROR, "unreadable table"
        text = f"a table of this corpus version cannot be read: {type(exc).__name__}: {exc}"
    else:
        traceback.print_exception(exc, file=sys.stderr)
        code, title = HTTPStatus.INTERNAL_SERVER_ERROR, "internal error"
        text = f"internal error ({type(exc).__name__}: {exc}); details are in the server log"
    return code, page.document(title, f"<p class=error>{escape(text[:4000])}</p>")


def bind(host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A listening server, or one RobustclapError (port in use, out of range, unknown host)."""
    if not 0 <= port <= 65535:
        raise RobustclapError(f"--port {port}: must be between 0 and 65535 (0 = any free port)")
    try:
        return ThreadingHTTPServer((host, port), handler)
    except socket.gaierror as exc:
        raise RobustclapError(f"--host {host!r}: unknown host ({exc.strerror})") from exc
    except OSError as exc:
        raise RobustclapError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
