"""HTML of the review sections: example tables with paging and CSV, every candidate of one
caption with each gate's verdict, and examples per failing gate. Every value is escaped."""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode

from robustclap.contracts.schema import col
from robustclap.dashboard.page import Raw, table
from robustclap.dashboard.queries import Filters
from robustclap.dashboard.review import (
    ALIGNMENT,
    SCORE_COLUMNS,
    alignment_text,
    fmt,
    limits,
    why,
)
from robustclap.quality.decide import EMPTY, GENERATION_FAILED

# scores shown as their own columns beside the limits (the rest are in the candidate view)
MAIN_SCORES = (col.sbert_cos, col.bertscore_f1, col.content_recall, col.content_novelty,
               col.length_ratio)


def href(params: dict[str, Any], **change: Any) -> str:
    merged = {**params, **change}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def caption_link(params: dict[str, Any], caption_id: str) -> Raw:
    return Raw(f'<a class="caption-link" href="{escape(href(params, caption=caption_id))}">'
               f"{escape(caption_id)}</a>")


def _cells(rows: list[list[Any]]) -> list[list[Any]]:
    return [[c if isinstance(c, Raw) else ("" if c is None else str(c)) for c in r]
            for r in rows]


def pager(params: dict[str, Any], key: str, page: int, shown: int, total: int, limit: int,
          what: str, ident: str) -> str:
    first = page * limit + 1 if shown else 0
    parts = [f'<p class="pager" id="{ident}">{first}–{page * limit + shown} of {total:,} {what}']
    if page > 0:
        parts.append(f' <a class="prev" href="{escape(href(params, **{key: page - 1}))}">'
                     "← previous</a>")
    if (page + 1) * limit < total:
        parts.append(f' <a class="next" href="{escape(href(params, **{key: page + 1}))}">'
                     "next →</a>")
    return "".join(parts) + "</p>"


def _score_cell(row: dict[str, Any], score: str, lims: list) -> Raw:
    value = row.get(score)
    mine = [lim for lim in lims if lim.score == score]
    bad = any(lim.ok(value) is False for lim in mine)
    limit_text = " ".join(f"{lim.op}{lim.value:g}" for lim in mine)
    title = f"limit {limit_text}" if limit_text else "no limit at this level"
    cls = ' class="num fail"' if bad else ' class="num"'
    shown = escape(fmt(value)) + (f' <small>({escape(limit_text)})</small>' if limit_text else "")
    return Raw(f'<span{cls} title="{escape(title)}">{shown}</span>')


def examples(params: dict[str, Any], f: Filters, total: int, rows: list[dict[str, Any]],
             r_total: int, r_rows: list[dict[str, Any]], gate_config: dict[str, Any],
             r_page: int) -> str:
    """Accepted side by side, and rejected rows with scores beside limits; both paged."""
    side = table(["caption_id", "split", "original", "level 1", "level 2"],
                 _cells([[caption_link(params, r["caption_id"]), r["split"], r["caption"],
                          r["l1"], r["l2"]] for r in rows]), "examples-table")
    rej_rows = []
    for r in r_rows:
        gates = r[col.failed_gates]
        lims = limits(gate_config, int(r[col.level]))
        rej_rows.append([
            caption_link(params, r[col.caption_id]), r[col.split], r[col.level],
            r[col.candidate], r[col.caption], r[col.paraphrase], r[col.reason],
            ", ".join(gates) if isinstance(gates, list) else gates, r[col.fail_reason],
            *(_score_cell(r, s, lims) for s in MAIN_SCORES), why(r, gate_config)])
    rej = table(["caption_id", "split", "level", "cand.", "original", "paraphrase", "reason",
                 "failed gates", "LLM failure", "SBERT", "BERTScore F1", "content recall",
                 "new words", "length ratio", "why (score vs limit)"],
                _cells(rej_rows), "rejected-table")
    csv_link = escape("rejected.csv" + href(params, page=None, rpage=None, caption=None))
    return (
        '<section id="examples"><h2>Examples</h2>'
        + pager(params, "page", f.page, len(rows), total, f.limit,
                "captions with an accepted paraphrase (rank 0 shown; click an id for every "
                "candidate)", "examples-count")
        + side + "<h3>Rejected candidates</h3>"
        + pager(params, "rpage", r_page, len(r_rows), r_total, f.limit, "rejected rows",
                "rejected-count")
        + f'<p><a id="rejected-csv" href="{csv_link}" download>download all {r_total:,} '
          "filtered rejected rows with their scores (CSV)</a></p>"
        + rej + "</section>"
    )


def _verdict(gate: str, row: dict[str, Any], lims: list) -> Raw:
    failed = row.get(col.failed_gates)
    unscored = failed is None or (failed[:1] in ([GENERATION_FAILED], [EMPTY])
                                  and gate not in (GENERATION_FAILED, EMPTY))
    if unscored:
        return Raw('<span class="na" title="not scored: no paraphrase">–</span>')
    mine = [lim.text(row.get(lim.score)) for lim in lims if lim.gate == gate]
    title = escape("; ".join(mine) or gate)
    if gate in failed:
        return Raw(f'<span class="fail" title="{title}">✗</span>')
    return Raw(f'<span class="pass" title="{title}">✓</span>')


def candidate_view(caption_id: str, rows: list[dict[str, Any]], gates: list[str],
                   gate_config: dict[str, Any]) -> str:
    """Every candidate of one caption: a row each (text, status, accepted rank, failed gates,
    event alignment), then one column per candidate for each gate's verdict and each score."""
    if not rows:
        return (f'<section id="caption-view"><h2>Caption {escape(caption_id)}</h2>'
                "<p>No candidates for this caption id in this version.</p></section>")
    first = rows[0]
    names = [f"L{r[col.level]} #{r[col.candidate]}" for r in rows]
    lims = [limits(gate_config, int(r[col.level])) for r in rows]
    listing = [[n, r[col.paraphrase] or "", r[col.status], r[col.fail_reason],
                "–" if r.get(col.rank) is None else f"accepted, rank {r[col.rank]}",
                ", ".join(r.get(col.failed_gates) or []) or ("–" if r.get(col.failed_gates)
                                                               is None else "none"),
                alignment_text(r.get(ALIGNMENT)), why(r, gate_config) or "–"]
               for n, r in zip(names, rows, strict=True)]
    verdicts = [[g, *(_verdict(g, r, lim) for r, lim in zip(rows, lims, strict=True))]
                for g in gates]
    scores = [[s, *(_score_cell(r, s, lim) for r, lim in zip(rows, lims, strict=True))]
              for s in SCORE_COLUMNS if any(r.get(s) is not None for r in rows)]
    return (
        f'<section id="caption-view"><h2>All candidates of caption {escape(caption_id)}</h2>'
        f"<p><b>{escape(str(first[col.caption]))}</b> (split {escape(str(first[col.split]))})"
        "</p>"
        + table(["candidate", "paraphrase", "status", "LLM failure", "accepted",
                 "failed gates", "event alignment", "why"], _cells(listing),
                 "candidates-table")
        + "<h3>Each gate's verdict</h3><p>✓ passed, ✗ failed, – not scored; hover a mark "
          "for the score and its limit.</p>"
        + table(["gate", *names], _cells(verdicts), "verdicts-table")
        + "<h3>Scores and their limits at the candidate's level</h3>"
        + table(["score", *names], _cells(scores), "scores-table")
        + "</section>"
    )


def failing(params: dict[str, Any], examples_by_gate: dict[str, list[dict[str, Any]]],
            gates: list[str], gate_config: dict[str, Any]) -> str:
    """A few rejected candidates for each gate that rejected any."""
    parts = ['<section id="failing"><h2>Examples failing each gate</h2>']
    shown = [g for g in gates if g in examples_by_gate]
    if not shown:
        parts.append("<p>No rejected candidates match the filters.</p>")
    for gate in shown:
        rows = [[caption_link(params, r[col.caption_id]), r[col.level], r[col.caption],
                 r[col.paraphrase], why(r, gate_config)] for r in examples_by_gate[gate]]
        parts.append(
            f'<h3 id="failing-{escape(gate)}">{escape(gate)} '
            f'<small><a href="{escape(href(params, gate=gate, rpage=None))}#examples">'
            "all rows failing it</a></small></h3>"
            + table(["caption_id", "level", "original", "paraphrase", "why (score vs limit)"],
                    _cells(rows), f"failing-{gate}-table"))
    return "".join(parts) + "</section>"
