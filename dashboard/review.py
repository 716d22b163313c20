"""Why a candidate passed or failed: its scores beside the configured limits, every candidate
of one caption with each gate's verdict, examples per failing gate, and CSV export.

The limits come from the version's own gate_config.yaml, so an older version is judged by the
thresholds it was gated with.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from robustclap.contracts.schema import GATE_SCORES, col
from robustclap.dashboard.corpus import Version
from robustclap.dashboard.queries import Filters, rejected_sql

# gate -> (score column, config section, key, op); section "level" = level1 / level2
_LIMITS: tuple[tuple[str, str, str, str, str], ...] = (
    ("list", col.n_sentences, "degenerate", "max_sentences", "<="),
    ("non_english", col.english_share, "degenerate", "english_share_min", ">="),
    ("repetition", col.repeat_frac, "degenerate", "repeat_frac_max", "<="),
    ("length_ratio", col.length_ratio, "degenerate", "length_ratio_min", ">="),
    ("length_ratio", col.length_ratio, "degenerate", "length_ratio_max", "<="),
    ("near_duplicate_original", col.token_edit, "degenerate", "token_edit_min", ">="),
    ("sbert", col.sbert_cos, "level", "sbert_min", ">="),
    ("bertscore", col.bertscore_f1, "level", "bertscore_f1_min", ">="),
    ("content_recall", col.content_recall, "level1", "content_recall_min", ">="),
    ("added_content", col.content_novelty, "level", "content_novelty_max", "<="),
    ("restructure", col.structure_edit, "level1", "structure_edit_min", ">="),
    ("vocabulary_change", col.content_recall, "level2", "content_recall_max", "<="),
    ("vocabulary_change", col.content_novelty, "level2", "content_novelty_min", ">="),
    ("numbers", col.number_diff, "facts", "number_diff_max", "<="),
    ("negation", col.negation_diff, "facts", "negation_diff_max", "<="),
    ("temporal_order", col.order_violations, "facts", "order_violations_max", "<="),
    ("role_swap", col.role_swaps, "facts", "role_swaps_max", "<="),
    ("reattachment", col.reattachments, "facts", "reattachments_max", "<="),
    # sound-event alignment (quality/events.py); columns named as the gate stage writes them
    ("extra_sentences", "extra_sentences", "alignment", "extra_sentences_max", "<="),
    ("event_missing", "align_missing", "alignment", "missing_max", "<="),
    ("event_added", "align_added", "alignment", "added_max", "<="),
    ("event_roles", "align_roles", "alignment", "roles_max", "<="),
    ("synonym_level1", "align_synonyms", "level1", "synonyms_max", "<="),
    ("weak_synonym", "align_synonym_sim", "level2", "synonym_sim_min", ">="),
)
_FLAGS = {"identical": col.norm_identical, "meta_text": col.meta_text, "echo": col.echo,
          "list": col.list_like, "definition": "definition", "fragment": "fragment",
          "near_copy": "same_content"}
ALIGNMENT = getattr(col, "alignment", "alignment")  # the event alignment, when gated with it
KEY_COLS = f"{col.caption_id}, {col.level}, {col.candidate}"
SCORE_COLUMNS = [f.name for f in GATE_SCORES.schema
                 if f.name not in (col.caption_id, col.level, col.candidate, col.status,
                                   col.passed, col.failed_gates, col.gate_version)]


@dataclass(frozen=True)
class Limit:
    gate: str
    score: str
    op: str  # ">=" or "<=": what a passing value satisfies
    value: float

    def ok(self, x: float | None) -> bool | None:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return None
        return x >= self.value if self.op == ">=" else x <= self.value

    def text(self, x: float | None) -> str:
        verdict = self.ok(x)
        mark = "–" if verdict is None else ("ok" if verdict else "FAIL")
        return f"{self.score} {fmt(x)} (limit {self.op} {self.value:g}: {mark})"


def fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def limits(gate_config: dict[str, Any], level: int) -> list[Limit]:
    """The configured numeric limits of one level (a null limit = gate off, left out)."""
    gates = gate_config.get("gates", {}) or {}
    out = []
    for gate, score, section, key, op in _LIMITS:
        part = gates.get(f"level{level}" if section == "level" else section) or {}
        if section in ("level1", "level2") and section != f"level{level}":
            continue
        value = part.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(Limit(gate, score, op, float(value)))
    return out


_LEARNED = {"meaning": (col.meaning_p, "P(meaning kept)"),
            "wording": (col.wording_p, "P(wording right for the level)")}
_RELATIONS = {"wn_synonym": "WordNet synonym", "wn_general": "more general",
              "wn_specific": "more specific: adds detail"}


def alignment_text(alignment: str | None) -> str:
    """The event alignment (JSON in scores.parquet) as a line a reviewer reads, e.g.
    'missing: hoot · added: hop · car → auto (WordNet synonym) · roles: bark source dog → cat'."""
    if not alignment:
        return "–"
    try:
        data = json.loads(alignment)
    except ValueError:
        return str(alignment)
    parts = []
    if data.get("missing"):
        parts.append("missing: " + ", ".join(data["missing"]))
    if data.get("added"):
        parts.append("added: " + ", ".join(data["added"]))
    parts += [f"{a} → {b} ({_RELATIONS.get(k, k)})" for a, b, k in data.get("wordnet", [])]
    parts += [f"{a} → {b} (similar words, {sim:.2f})" for a, b, sim in data.get("synonyms", [])]
    roles = [f"{r.get('action')} {r.get('slot')} {r.get('caption') or '–'} → "
             f"{r.get('candidate') or '–'}" for r in data.get("roles", [])]
    if roles:
        parts.append("roles: " + "; ".join(roles))
    for flag in ("extra_sentences", "definition", "fragment", "run_on"):
        if data.get(flag):
            parts.append(flag.replace("_", " "))
    return " · ".join(parts) or "every word matched"


def _learned_text(gate: str, row: dict[str, Any], gate_config: dict[str, Any]) -> str:
    score, label = _LEARNED[gate]
    level = int(row[col.level])
    th = ((gate_config.get("learned") or {}).get(f"level{level}") or {}).get(gate)
    p = row.get(score)
    limit = "" if th is None else f" (limit >= {th:g})"
    return f"{label} {fmt(p)}{limit}"


def why(row: dict[str, Any], gate_config: dict[str, Any]) -> str:
    """The failed gates' scores beside their limits, e.g. 'sbert_cos 0.712 (limit >= 0.8: FAIL)';
    for the learned gates their probability, its threshold and what pulled it down."""
    failed = row.get(col.failed_gates) or []
    if isinstance(failed, str):
        failed = [g.strip() for g in failed.split(",") if g.strip()]
    parts = []
    lims = limits(gate_config, int(row[col.level]))
    note = row.get(col.decision_note)
    for gate in failed:
        if gate in _LEARNED:
            parts.append(f"{gate}: {_learned_text(gate, row, gate_config)}")
            continue
        found = [lim.text(row.get(lim.score)) for lim in lims if lim.gate == gate]
        if gate in _FLAGS and row.get(_FLAGS[gate]):
            found.append(f"{_FLAGS[gate]} = yes")
        parts.append(f"{gate}: " + ("; ".join(found) if found else "(no numeric limit)"))
    if note and any(g in _LEARNED for g in failed):
        parts.append(f"why: {note}")
    return " | ".join(parts)


def rejected_with_scores(con: duckdb.DuckDBPyConnection, v: Version, f: Filters,
                         limit: int | None, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """Rejected rows (filters, paging) joined with their scores."""
    sql, params = rejected_sql(v, f, failed_gates_as_list=True)
    score_sql = ", ".join(f"s.{c}" for c in SCORE_COLUMNS)
    page = "" if limit is None else " LIMIT ? OFFSET ?"
    # the page first, then its scores: joining every rejected row with the scores before the
    # limit took 1.7 s of a 1,000,000-candidate page
    full = f"""
        WITH p AS (SELECT *, count(*) OVER () AS total FROM ({sql})
                   ORDER BY {KEY_COLS}{page})
        SELECT p.*, {score_sql}
        FROM p LEFT JOIN read_parquet(?) s USING ({KEY_COLS})
        ORDER BY p.{col.caption_id}, p.{col.level}, p.{col.candidate}
    """
    args = [*params] + ([] if limit is None else [limit, offset]) + [v.scores]
    cur = con.execute(full, args)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    total = int(rows[0]["total"]) if rows else _count(con, sql, params)  # a page past the end
    for r in rows:
        r.pop("total", None)
    return total, rows


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    return int(con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])


def candidates_of(con: duckdb.DuckDBPyConnection, v: Version, caption_id: str
                  ) -> list[dict[str, Any]]:
    """Every candidate of one caption: text, status, scores, failed gates, accepted rank."""
    if not v.has_candidates():
        return []
    score_sql = ", ".join(f"s.{c}" for c in SCORE_COLUMNS)
    one = f"WHERE {col.caption_id} = ?"  # in every scan: Parquet statistics skip the rest
    cur = con.execute(f"""
        SELECT c.{col.caption_id}, c.{col.caption}, c.{col.split}, c.{col.level},
               c.{col.candidate}, c.{col.paraphrase}, c.{col.status}, c.{col.fail_reason},
               {score_sql}, s.{col.failed_gates}, a.{col.rank}
        FROM (SELECT * FROM read_parquet(?) {one}) c
        LEFT JOIN (SELECT * FROM read_parquet(?) {one}) s USING ({KEY_COLS})
        LEFT JOIN (SELECT {KEY_COLS}, {col.rank} FROM read_parquet(?) {one}) a
             USING ({KEY_COLS})
        ORDER BY c.{col.level}, c.{col.candidate}
    """, [v.candidates, caption_id, v.scores, caption_id, v.accepted, caption_id])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def failing_examples(con: duckdb.DuckDBPyConnection, v: Version, f: Filters, per_gate: int = 3
                     ) -> dict[str, list[dict[str, Any]]]:
    """Up to `per_gate` rejected candidates for every gate that rejected any (filters apply)."""
    sql, params = rejected_sql(v, f, failed_gates_as_list=True)
    # pick the rows on the keys alone, then fetch text and scores for those few: carrying
    # every column through the unnest and the scores join took 8.6 s at 1,000,000 candidates
    # (and the first rows per gate come from a top-n aggregate, not a window sort: 0.2 s
    # instead of 1.4 s there)
    cur = con.execute(f"""
        WITH r AS ({sql}),
        k AS (SELECT {KEY_COLS}, unnest({col.failed_gates}) AS gate FROM r),
        top AS (SELECT gate, unnest(min({{'c': {col.caption_id}, 'l': {col.level},
                                          'k': {col.candidate}}}, {int(per_gate)})) AS key
                FROM k GROUP BY gate),
        pick AS (SELECT gate, key.c AS {col.caption_id}, key.l AS {col.level},
                        key.k AS {col.candidate} FROM top)
        SELECT pick.gate, r.*, {", ".join(f"s.{c}" for c in SCORE_COLUMNS)}
        FROM pick JOIN r USING ({KEY_COLS})
        LEFT JOIN read_parquet(?) s USING ({KEY_COLS})
        ORDER BY pick.gate, r.{col.caption_id}, r.{col.level}, r.{col.candidate}
    """, [*params, v.scores])
    names = [d[0] for d in cur.description]
    out: dict[str, list[dict[str, Any]]] = {}
    for r in cur.fetchall():
        row = dict(zip(names, r, strict=True))
        out.setdefault(row.pop("gate"), []).append(row)
    return out


CSV_COLUMNS = [col.caption_id, col.split, col.level, col.candidate, col.caption,
               col.paraphrase, col.reason, col.failed_gates, col.fail_reason, *SCORE_COLUMNS]


def rejected_csv(con: duckdb.DuckDBPyConnection, v: Version, f: Filters,
                 chunk_rows: int = 5000) -> Iterator[bytes]:
    """Every filtered rejected row with its scores as CSV, a chunk at a time (no paging)."""
    sql, params = rejected_sql(v, f)
    score_sql = ", ".join(f"s.{c}" for c in SCORE_COLUMNS)
    cur = con.execute(f"""
        WITH r AS ({sql})
        SELECT {", ".join(f"r.{c}" for c in CSV_COLUMNS[:9])}, {score_sql}
        FROM r LEFT JOIN read_parquet(?) s USING ({col.caption_id}, {col.level}, {col.candidate})
        ORDER BY r.{col.caption_id}, r.{col.level}, r.{col.candidate}
    """, [*params, v.scores])
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    while True:
        rows = cur.fetchmany(chunk_rows)
        writer.writerows(rows)
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
        if not rows:
            return
