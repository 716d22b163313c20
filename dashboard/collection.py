"""A folder of corpora (`runs/corpus`, holding `NAME/v1`, `NAME/v2`, ...): which corpora it
holds and the index page that lists them, each opening as its own dashboard under `/NAME/`."""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import quote

from robustclap.contracts import layout
from robustclap.corpus.versions import BrokenVersion, latest_target, read_manifest
from robustclap.dashboard import page
from robustclap.dashboard.corpus import list_versions


def is_corpus(folder: Path) -> bool:
    """A corpus folder holds version folders (v1, v2, ...), readable or not."""
    return bool(layout.versions(folder))


def corpora(folder: Path) -> dict[str, Path]:
    """The corpus folders directly inside `folder`, by name (hidden folders left out)."""
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir())
            if p.is_dir() and not p.name.startswith(".") and is_corpus(p)}


def _row(name: str, root: Path) -> list[str]:
    readable = list_versions(root)
    try:
        target = latest_target(root)
        latest = target.name if target is not None else (f"v{readable[-1]}" if readable else "–")
    except BrokenVersion as exc:
        latest = f"broken: {exc}"
    accepted = "–"
    if readable:  # a readable version's manifest is valid JSON (the readers' contract)
        counts = read_manifest(layout.version_dir(root, readable[-1])).get("counts") or {}
        if isinstance(counts.get("accepted"), int):
            accepted = f"{counts['accepted']:,}"
    broken = sorted(set(layout.versions(root)) - set(readable))
    link = f'<a href="{escape(quote(name))}/">{escape(name)}</a>'
    return [link, escape(", ".join(f"v{v}" for v in readable) or "none readable"),
            escape(latest), escape(accepted),
            escape(", ".join(f"v{v}" for v in broken) or "–")]


def index_page(folder: Path, found: dict[str, Path]) -> str:
    """One table row per corpus: its readable versions, latest, accepted rows of the newest
    readable version and any broken versions; each name opens that corpus's dashboard."""
    head = ["corpus", "versions", "latest", "accepted (newest)", "broken"]
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in _row(n, p)) + "</tr>"
                   for n, p in found.items())
    body = (f"<h1>corpora in {escape(folder.name or str(folder))}</h1>"
            f"<table id=corpora><thead><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>"
            f"</thead><tbody>{rows}</tbody></table>")
    return page.document(f"corpora in {folder.name}", body)
