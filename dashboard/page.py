"""HTML sections of the dashboard and the report, built from query results.

Every value is escaped here; the sections are plain HTML with inline SVG and inline CSS, so a
page needs nothing from the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from robustclap.dashboard import charts
from robustclap.dashboard.overview import Overview
from robustclap.dashboard.queries import DIST_SCORES, Filters

CSS = """
body{font-family:system-ui,sans-serif;margin:0 1.5rem 2rem;color:#222}
h1{font-size:1.4rem} h2{font-size:1.15rem;border-bottom:1px solid #ddd;margin-top:2rem}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}
.card{border:1px solid #ddd;border-radius:6px;padding:.4rem .8rem;min-width:8rem}
.card b{display:block;font-size:1.2rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border:1px solid #ddd;padding:.2rem .45rem;vertical-align:top;text-align:left}
th{background:#f4f4f4} td.num{text-align:right}
.fail{color:#b03a2e;font-weight:bold} .pass{color:#2a7a2a} .na{color:#999}
.provenance{font-size:.85rem;color:#444} .pager a{margin-left:.6rem}
#candidates-table td,#rejected-table td{max-width:22rem}
.up{color:#2a7a2a} .down{color:#b03a2e}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin:.5rem 0}
form.filters label{display:flex;flex-direction:column;font-size:.8rem}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .2rem 0 .8rem}
"""


def document(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>")


def _num(x: float | int | None, fmt: str = "{:,.0f}") -> str:
    return "–" if x is None else fmt.format(x)


class Raw(str):
    """A cell of markup built from escaped parts (a link, a mark): not escaped again."""


def _cell(c: Any) -> str:
    return c if isinstance(c, Raw) else escape("" if c is None else str(c))


def table(headers: list[str], rows: Iterable[list[Any]], table_id: str = "",
          numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td{" class=num" if i in numeric else ""}>{_cell(c)}'
            "</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows)
    ident = f' id="{escape(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def overview(ov: Overview) -> str:
    c, t = ov.counts, ov.throughput
    cards = [
        ("captions in", _num(c["captions"])), ("candidates", _num(c["candidates"])),
        ("LLM ok", _num(c["llm_ok"])), ("LLM failed", _num(c["llm_failed"])),
        ("accepted", _num(c["accepted"])),
        *((f"accepted level {lv}", _num(n)) for lv, n in ov.accepted_per_level.items()),
        ("prompt tokens", _num(c["prompt_tokens"])),
        ("completion tokens", _num(c["completion_tokens"])),
        ("rows / s", _num(t["rows_per_s"], "{:,.2f}")),
        ("completion tokens / s", _num(t["tokens_per_s"], "{:,.1f}")),
        ("accepted / hour", _num(t["accepted_per_hour"], "{:,.0f}")),
        ("generation wall time", _num(t["wall_s"], "{:,.0f} s")),
    ]
    card_html = "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>'
                        for k, v in cards)
    levels = sorted(ov.pass_rates)
    gates = list(next(iter(ov.pass_rates.values()), {}))
    rate_rows = [[g, *(_num(ov.pass_rates[lv][g], "{:.1%}") for lv in levels)] for g in gates]
    per_level = [[lv, ov.candidates_per_level.get(lv, 0), ov.accepted_per_level.get(lv, 0)]
                 for lv in levels]
    rate_charts = "".join(
        charts.bars([(g, r) for g, r in ov.pass_rates[lv].items() if r is not None],
                    f"pass rate per gate, level {lv}", fmt="{:.0%}", max_value=1.0)
        for lv in levels)
    fail_chart = charts.bars([(r, float(n)) for r, n in ov.failed_by_reason],
                             "failed LLM rows by reason")
    prov = "; ".join(f"{k}: <b>{escape(v)}</b>" for k, v in ov.provenance.items())
    scope = ('<p class="filtered" id="filtered-note">The per-level table and every chart '
             "below show only the rows the filters select; the cards count the whole "
             "version.</p>" if ov.filtered else "")
    return (
        f'<section id="overview"><h2>Overview (v{ov.version})</h2>'
        f'<p class="provenance" id="provenance">{prov}</p>'
        f'<div class="cards">{card_html}</div>{scope}'
        + table(["level", "candidates", "accepted"], per_level, "per-level", {1, 2})
        + f'<div class="charts">{rate_charts}{fail_chart}</div>'
        + "<details><summary>pass rate per gate (table)</summary>"
        + table(["gate", *(f"level {lv}" for lv in levels)], rate_rows, "pass-rates",
                set(range(1, len(levels) + 1)))
        + "</details></section>"
    )


def distributions(ov: Overview, ranges: dict[str, tuple[float, float]],
                  hists: dict[str, dict[int, dict[str, list[int]]]],
                  open_ends: bool = False) -> str:
    legend = (f'<p class="legend">Stacked counts:<span style="background:'
              f'{charts.ACCEPTED_COLOR}"></span>accepted<span style="background:'
              f'{charts.REJECTED_COLOR}"></span>rejected; dashed lines: configured '
              "thresholds; hover a bar for its bin range and count"
              + ("; the first and last bins also hold the few values beyond the axis "
                 "(0.5% each side at most)" if open_ends else "") + ".</p>")
    out = []
    for score, label in DIST_SCORES:
        if score not in ranges:
            continue
        lo, hi = ranges[score]
        for lv, per in sorted(hists.get(score, {}).items()):
            lims = ov.thresholds.get(score, {}).get(lv, [])
            out.append(charts.histogram(per["accepted"], per["rejected"], lo, hi, lims,
                                        f"{label}, level {lv}", x_label=label,
                                        open_ends=open_ends))
    body = "".join(out) or "<p>No scored candidates.</p>"
    return (f'<section id="distributions"><h2>Score distributions</h2>{legend}'
            f'<div class="charts">{body}</div></section>')


def filter_form(version: int, compare: int | None, versions: list[int], f: Filters,
                gates: list[str], splits: list[str]) -> str:
    def select(name: str, options: list[tuple[str, str]], current: str) -> str:
        opts = "".join(
            f'<option value="{escape(v)}"{" selected" if v == current else ""}>'
            f"{escape(label)}</option>" for v, label in options)
        return f'<label>{escape(name)}<select name="{escape(name)}">{opts}</select></label>'

    vs = [(str(v), f"v{v}") for v in reversed(versions)]
    return (
        '<form class="filters" id="filters" method="get">'
        + select("version", vs, str(version))
        + select("compare", [("", "–"), *vs], "" if compare is None else str(compare))
        + select("level", [("", "all"), ("1", "1"), ("2", "2")],
                 "" if f.level is None else str(f.level))
        + select("split", [("", "all"), *((s, s) for s in splits)], f.split or "")
        + select("gate", [("", "any"), *((g, g) for g in gates)], f.gate or "")
        + f'<label>search<input type="search" name="q" value="{escape(f.text or "")}">'
        "</label><button type=submit>apply</button></form>"
    )


def examples(total: int, rows: list[dict[str, Any]], r_total: int,
             r_rows: list[dict[str, Any]]) -> str:
    side = table(["caption_id", "split", "original", "level 1", "level 2"],
                 ([r["caption_id"], r["split"], r["caption"], r["l1"], r["l2"]] for r in rows),
                 "examples-table")
    rej = table(["caption_id", "split", "level", "cand.", "original", "paraphrase", "reason",
                 "failed gates", "LLM failure"],
                ([r["caption_id"], r["split"], r["level"], r["candidate"], r["caption"],
                  r["paraphrase"], r["reason"], r["failed_gates"], r["fail_reason"]]
                 for r in r_rows), "rejected-table")
    return (
        '<section id="examples"><h2>Examples</h2>'
        f'<p id="examples-count">{len(rows)} of {total} captions with an accepted paraphrase '
        f"(rank 0 shown)</p>{side}"
        f'<h3>Rejected candidates</h3><p id="rejected-count">{len(r_rows)} of {r_total} '
        f"rejected rows</p>{rej}</section>"
    )


def drift(old: int, new: int, rates_old: dict, rates_new: dict, q_old: dict, q_new: dict,
          change_counts: dict[tuple[str, str], int], changes: list[dict[str, Any]]) -> str:
    def delta(a: float | None, b: float | None, fmt: str) -> str:
        if a is None or b is None:
            return "–"
        return ("+" if b - a >= 0 else "") + fmt.format(b - a)

    rate_rows = []
    for lv in sorted(set(rates_old) | set(rates_new)):
        for gate in rates_new.get(lv) or rates_old.get(lv) or {}:
            a, b = rates_old.get(lv, {}).get(gate), rates_new.get(lv, {}).get(gate)
            if a != b:
                rate_rows.append([lv, gate, _num(a, "{:.1%}"), _num(b, "{:.1%}"),
                                  delta(a, b, "{:.1%}")])
    q_rows = []
    for key in sorted(set(q_old) | set(q_new)):
        a, b = q_old.get(key, {}), q_new.get(key, {})
        q_rows.append([key[0], key[1], _num(a.get("n")), _num(b.get("n")),
                       _num(a.get("q50"), "{:.3f}"), _num(b.get("q50"), "{:.3f}"),
                       delta(a.get("q50"), b.get("q50"), "{:.3f}"),
                       delta(a.get("mean"), b.get("mean"), "{:.3f}")])
    cc = table(["v" + str(old), "v" + str(new), "(caption, level) pairs"],
               ([a, b, n] for (a, b), n in sorted(change_counts.items())), "drift-counts", {2})
    ch = table(["caption_id", "level", f"v{old}", f"v{new}", "caption"],
               ([r["caption_id"], r["level"], r["old_status"], r["new_status"], r["caption"]]
                for r in changes), "drift-changes")
    return (
        f'<section id="drift"><h2>Drift v{old} → v{new}</h2>'
        "<h3>Pass rates that changed</h3>"
        + (table(["level", "gate", f"v{old}", f"v{new}", "change"], rate_rows, "drift-rates")
           if rate_rows else "<p>No pass rate changed.</p>")
        + "<h3>Score distributions (median and mean)</h3>"
        + table(["score", "level", f"n v{old}", f"n v{new}", f"median v{old}",
                 f"median v{new}", "median change", "mean change"], q_rows, "drift-scores")
        + f"<h3>Captions that changed status</h3>{cc}{ch}</section>"
    )


def training(evaluation: dict[str, Any] | None) -> str:
    if not evaluation:
        return ('<section id="training"><h2>Training results</h2>'
                "<p>No fine-tuning results for this version.</p></section>")
    rows = []
    for name, dirs in (evaluation.get("retrieval") or {}).items():
        for direction, metrics in dirs.items():
            if isinstance(metrics, dict):
                rows.append([name, direction, *(f"{k}={v:.4f}" for k, v in metrics.items()
                                                  if isinstance(v, int | float))])
    drops = []
    for name, d in (evaluation.get("drop") or {}).items():
        for direction in ("t2a", "a2t"):
            for metric, value in (d.get(direction) or {}).items():
                drops.append([name, direction, metric, f"{value:+.4f}", d.get("captions")])
    width = max((len(r) for r in rows), default=2)
    rows = [r + [""] * (width - len(r)) for r in rows]
    return (
        '<section id="training"><h2>Training results</h2>'
        f"<p>model {escape(str(evaluation.get('model', '?')))}, split "
        f"{escape(str(evaluation.get('split', '?')))}, {evaluation.get('clips', '?')} clips</p>"
        + table(["queries", "direction", *["metrics"] * (width - 2)], rows, "retrieval")
        + "<h3>Drop from original queries (same captions)</h3>"
        + table(["queries", "direction", "metric", "drop", "captions"], drops, "drops")
        + "</section>"
    )
