"""Every number the dashboard shows, as SQL over a version's Parquet files.

Each function takes a DuckDB connection and parameters and returns small Python values: the
aggregation happens in DuckDB, so a corpus of millions of rows is never loaded into pandas.
Values always travel as bound parameters; only column names from
`robustclap.contracts.schema.col` and
fixed keywords are written into the SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import duckdb

from robustclap.contracts.schema import col, status
from robustclap.dashboard.corpus import Version
from robustclap.quality.decide import ALL_GATES, EMPTY, GENERATION_FAILED

# Scores drawn as distributions: (column, label).
DIST_SCORES: tuple[tuple[str, str], ...] = (
    (col.sbert_cos, "SBERT cosine"),
    (col.bertscore_f1, "BERTScore F1"),
    (col.content_recall, "content-word recall"),
    (col.content_novelty, "new-word share"),
    (col.length_ratio, "length ratio"),
)
KEY = f"{col.caption_id}, {col.level}, {col.candidate}"
DRIFT_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory connection; DuckDB connections are not shared between threads."""
    return duckdb.connect(database=":memory:")


@dataclass(frozen=True)
class Filters:
    """The example tables' filters; None means no filter."""

    level: int | None = None
    split: str | None = None
    gate: str | None = None
    text: str | None = None
    limit: int = 50
    page: int = 0  # of the example tables, `limit` rows a page
    text_keys: str | None = None  # temp table of the candidates the text matches (prepare())

    @property
    def offset(self) -> int:
        return self.page * self.limit

    @property
    def selects_rows(self) -> bool:
        """Whether any filter narrows the rows (paging does not)."""
        return any(x is not None for x in (self.level, self.split, self.gate, self.text))


def counts(con: duckdb.DuckDBPyConnection, v: Version) -> dict[str, int]:
    """Captions in, candidates, LLM ok/failed, tokens, accepted."""
    captions = con.execute("SELECT count(*) FROM read_parquet(?)", [v.captions]).fetchone()[0]
    out = {"captions": captions, "candidates": 0, "llm_ok": 0, "llm_failed": 0,
           "prompt_tokens": 0, "completion_tokens": 0}
    if v.has_candidates():
        row = con.execute(
            f"SELECT count(*), count(*) FILTER ({col.status} = ?), "
            f"count(*) FILTER ({col.status} <> ?), coalesce(sum({col.prompt_tokens}), 0), "
            f"coalesce(sum({col.completion_tokens}), 0) FROM read_parquet(?)",
            [status.ok, status.ok, v.candidates],
        ).fetchone()
        out.update(zip(("candidates", "llm_ok", "llm_failed", "prompt_tokens",
                        "completion_tokens"), map(int, row), strict=True))
    out["accepted"] = con.execute(
        "SELECT count(*) FROM read_parquet(?)", [v.accepted]).fetchone()[0]
    return out


def accepted_per_level(con: duckdb.DuckDBPyConnection, v: Version) -> dict[int, int]:
    rows = con.execute(
        f"SELECT {col.level}, count(*) FROM read_parquet(?) GROUP BY 1 ORDER BY 1", [v.accepted]
    ).fetchall()
    return {int(lv): int(n) for lv, n in rows}


def scores_sql(v: Version, f: Filters | None = None) -> tuple[str, list[Any]]:
    """The scores rows the filters select, as a subquery: level and gate on the scores,
    split through the captions, text through the candidates (caption or paraphrase).
    Every chart reads its rows from here, so a filter changes every chart."""
    f = f or Filters()
    where, params = "", [v.scores]
    if f.level is not None:
        where += f" AND s.{col.level} = ?"
        params.append(f.level)
    if f.gate:
        where += f" AND list_contains(s.{col.failed_gates}, ?)"
        params.append(f.gate)
    if f.split:
        where += (f" AND s.{col.caption_id} IN (SELECT {col.caption_id} FROM read_parquet(?) "
                  f"WHERE {col.split} = ?)")
        params += [v.captions, f.split]
    if f.text and f.text_keys:
        where += (f" AND EXISTS (SELECT 1 FROM {f.text_keys} t WHERE "
                  f"t.{col.caption_id} = s.{col.caption_id} AND t.{col.level} = s.{col.level} "
                  f"AND t.{col.candidate} = s.{col.candidate})")
    elif f.text and v.has_candidates():
        where += (f" AND EXISTS (SELECT 1 FROM read_parquet(?) c WHERE "
                  f"c.{col.caption_id} = s.{col.caption_id} AND c.{col.level} = s.{col.level} "
                  f"AND c.{col.candidate} = s.{col.candidate} AND "
                  f"(contains(lower(coalesce(c.{col.caption}, '')), lower(?)) OR "
                  f"contains(lower(coalesce(c.{col.paraphrase}, '')), lower(?))))")
        params += [v.candidates, f.text, f.text]
    return f"SELECT s.* FROM read_parquet(?) s WHERE true{where}", params


def prepare(con: duckdb.DuckDBPyConnection, v: Version, f: Filters) -> Filters:
    """Match the text filter against the candidates once per request, into a temp table the
    chart queries join (each of them scanning 1,000,000 candidates' texts took ~1 s)."""
    if not f.text or not v.has_candidates():
        return f
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE text_keys AS SELECT {KEY} FROM read_parquet(?) WHERE "
        f"contains(lower(coalesce({col.caption}, '')), lower(?)) OR "
        f"contains(lower(coalesce({col.paraphrase}, '')), lower(?))",
        [v.candidates, f.text, f.text])
    return replace(f, text_keys="text_keys")


def candidates_per_level(con: duckdb.DuckDBPyConnection, v: Version,
                         f: Filters | None = None) -> dict[int, int]:
    sql, params = scores_sql(v, f)
    rows = con.execute(
        f"SELECT {col.level}, count(*) FROM ({sql}) GROUP BY 1 ORDER BY 1", params
    ).fetchall()
    return {int(lv): int(n) for lv, n in rows}


def failed_by_reason(con: duckdb.DuckDBPyConnection, v: Version, f: Filters | None = None
                     ) -> list[tuple[str, int]]:
    """Failed LLM rows by fail_reason, most frequent first (of the filtered candidates)."""
    if not v.has_candidates():
        return []
    keep, params = "", [v.candidates, status.ok]
    if f is not None and f.selects_rows:
        sql, sp = scores_sql(v, f)
        keep = (f" AND EXISTS (SELECT 1 FROM ({sql}) k WHERE k.{col.caption_id} = "
                f"fc.{col.caption_id} AND k.{col.level} = fc.{col.level} AND "
                f"k.{col.candidate} = fc.{col.candidate})")
        params += sp
    rows = con.execute(
        f"SELECT coalesce({col.fail_reason}, 'unknown'), count(*) FROM read_parquet(?) fc "
        f"WHERE {col.status} <> ?{keep} GROUP BY 1 ORDER BY 2 DESC, 1", params
    ).fetchall()
    return [(str(r), int(n)) for r, n in rows]


def pass_rates(con: duckdb.DuckDBPyConnection, v: Version, f: Filters | None = None
               ) -> dict[int, dict[str, float | None]]:
    """Share of candidates passing each gate, per level (same definition as the gate summary:
    generation failures and empty outputs over all candidates, other gates over scored ones)."""
    sql, sp = scores_sql(v, f)
    base = (
        f"SELECT {col.level} AS lv, {col.failed_gates} AS fg, "
        f"coalesce({col.failed_gates}[1] NOT IN (?, ?), true) AS scored FROM ({sql})"
    )
    params = [GENERATION_FAILED, EMPTY, *sp]
    totals = con.execute(
        f"SELECT lv, count(*), count(*) FILTER (scored) FROM ({base}) GROUP BY 1", params
    ).fetchall()
    fails = con.execute(
        f"SELECT lv, g, count(*) FROM (SELECT lv, unnest(fg) AS g FROM ({base})) GROUP BY 1, 2",
        params,
    ).fetchall()
    failed = {(int(lv), str(g)): int(n) for lv, g, n in fails}
    out: dict[int, dict[str, float | None]] = {}
    for lv, n_all, n_scored in sorted(totals):
        rates: dict[str, float | None] = {}
        for gate in ALL_GATES:
            n = n_all if gate in (GENERATION_FAILED, EMPTY) else n_scored
            rates[gate] = None if n == 0 else 1 - failed.get((int(lv), gate), 0) / n
        out[int(lv)] = rates
    return out


def score_ranges(con: duckdb.DuckDBPyConnection, v: Version, f: Filters | None = None,
                 tail: float = 0.0) -> dict[str, tuple[float, float]]:
    """Min and max of every distribution score (left out when nothing was scored); with
    `tail`, the tail and 1 - tail quantiles instead, so a few outliers cannot squash a chart."""
    cols = [c for c, _ in DIST_SCORES]
    if tail > 0:
        exprs = ", ".join(
            f"quantile_cont({c}, {float(tail)}) FILTER (NOT isnan({c})), "
            f"quantile_cont({c}, {1 - float(tail)}) FILTER (NOT isnan({c}))" for c in cols)
    else:
        exprs = ", ".join(f"min({c}) FILTER (NOT isnan({c})), max({c}) FILTER (NOT isnan({c}))"
                          for c in cols)
    sql, params = scores_sql(v, f)
    # tail quantiles from a fixed-seed sample: a tenth of the cost of exact ones at 1M rows,
    # and an axis range needs no more precision than that
    sample = " USING SAMPLE reservoir(100000 ROWS) REPEATABLE (0)" if tail > 0 else ""
    row = con.execute(f"SELECT {exprs} FROM ({sql}){sample}", params).fetchone()
    return {c: (row[2 * i], row[2 * i + 1]) for i, c in enumerate(cols)
            if row[2 * i] is not None}


def histograms(con: duckdb.DuckDBPyConnection, v: Version,
               ranges: dict[str, tuple[float, float]], bins: int = 30, f: Filters | None = None
               ) -> dict[str, dict[int, dict[str, list[int]]]]:
    """Per score and level, counts per bin of accepted and of rejected candidates.

    Bin i covers [lo + i*w, lo + (i+1)*w) with w = (hi - lo) / bins; the top edge falls in the
    last bin. One scan of scores.parquet for all scores (UNPIVOT), joined with accepted.
    """
    if not ranges:
        return {}
    scores_from, scores_params = scores_sql(v, f)
    names = list(ranges)
    values_sql = ", ".join("(?, ?, ?)" for _ in names)
    params: list[Any] = []
    for name in names:
        lo, hi = ranges[name]
        params += [name, float(lo), (float(hi) - float(lo)) / bins or 1.0]
    sql = f"""
        WITH acc AS (SELECT {KEY} FROM read_parquet(?)),
        s AS (
            SELECT sc.{col.level} AS lv, acc.{col.caption_id} IS NOT NULL AS ok,
                   {", ".join(f"sc.{n}" for n in names)}
            FROM ({scores_from}) sc LEFT JOIN acc USING ({KEY})
        ),
        u AS (UNPIVOT s ON {", ".join(names)} INTO NAME score VALUE x),
        r AS (SELECT * FROM (VALUES {values_sql}) t(score, lo, w))
        SELECT u.score, lv, ok,
               CAST(least(greatest(floor((x - r.lo) / r.w), 0), ?) AS INTEGER) AS b, count(*)
        FROM u JOIN r ON u.score = r.score
        WHERE NOT isnan(x)
        GROUP BY ALL
    """
    rows = con.execute(sql, [v.accepted, *scores_params, *params, bins - 1]).fetchall()
    out: dict[str, dict[int, dict[str, list[int]]]] = {}
    for score, lv, ok, b, n in rows:
        per = out.setdefault(score, {}).setdefault(
            int(lv), {"accepted": [0] * bins, "rejected": [0] * bins})
        per["accepted" if ok else "rejected"][b] += int(n)
    return out


def _text_filter(f: Filters, fields: list[str]) -> tuple[str, list[Any]]:
    if not f.text:
        return "", []
    parts = " OR ".join(f"contains(lower(coalesce({x}, '')), lower(?))" for x in fields)
    return f" AND ({parts})", [f.text] * len(fields)


def side_by_side(con: duckdb.DuckDBPyConnection, v: Version, f: Filters
                 ) -> tuple[int, list[dict[str, Any]]]:
    """Original caption beside its best (rank 0) level-1 and level-2 paraphrase.

    Level filter: captions with an accepted paraphrase of that level. Gate filter: captions
    with at least one candidate (of the filtered level) that failed that gate.
    """
    where, params = "", [v.accepted]
    if f.split:
        where += f" AND {col.split} = ?"
        params.append(f.split)
    having = ""
    if f.level is not None:
        having = f" AND l{int(f.level)} IS NOT NULL" if f.level in (1, 2) else " AND false"
    text_sql, text_params = _text_filter(f, [col.caption, "l1", "l2"])
    gate_sql, gate_params = "", []
    if f.gate:
        lv_sql = f" AND {col.level} = ?" if f.level is not None else ""
        gate_sql = (f" AND {col.caption_id} IN (SELECT {col.caption_id} FROM read_parquet(?) "
                    f"WHERE list_contains({col.failed_gates}, ?){lv_sql})")
        gate_params = [v.scores, f.gate] + ([f.level] if f.level is not None else [])
    sql = f"""
        WITH p AS (
            SELECT {col.caption_id}, any_value({col.split}) AS {col.split},
                   any_value({col.caption}) AS {col.caption},
                   max({col.paraphrase}) FILTER ({col.level} = 1) AS l1,
                   max({col.paraphrase}) FILTER ({col.level} = 2) AS l2
            FROM read_parquet(?) WHERE {col.rank} = 0{where}
            GROUP BY {col.caption_id}
        )
        SELECT {col.caption_id}, {col.split}, {col.caption}, l1, l2, count(*) OVER () AS total
        FROM p WHERE true{having}{text_sql}{gate_sql}
        ORDER BY {col.caption_id} LIMIT ? OFFSET ?
    """
    cur = con.execute(sql, [*params, *text_params, *gate_params, f.limit, f.offset])
    return _rows_with_total(cur)


def rejected_sql(v: Version, f: Filters, failed_gates_as_list: bool = False
                 ) -> tuple[str, list[Any]]:
    """The filtered rejected rows as a subquery (no order, no limit) and its parameters."""
    where, params = "", [v.rejected]
    if f.level is not None:
        where += f" AND {col.level} = ?"
        params.append(f.level)
    if f.split:
        where += f" AND {col.split} = ?"
        params.append(f.split)
    if f.gate:
        where += f" AND list_contains({col.failed_gates}, ?)"
        params.append(f.gate)
    text_sql, text_params = _text_filter(f, [col.caption, col.paraphrase])
    gates = (col.failed_gates if failed_gates_as_list
             else f"array_to_string({col.failed_gates}, ', ') AS {col.failed_gates}")
    sql = f"""
        SELECT {col.caption_id}, {col.split}, {col.level}, {col.candidate}, {col.caption},
               {col.paraphrase}, {col.reason}, {gates}, {col.fail_reason}
        FROM read_parquet(?) WHERE true{where}{text_sql}
    """
    return sql, [*params, *text_params]


def rejected_rows(con: duckdb.DuckDBPyConnection, v: Version, f: Filters
                  ) -> tuple[int, list[dict[str, Any]]]:
    """Rejected candidates with the reason (first failed gate) and every failed gate."""
    sql, params = rejected_sql(v, f)
    cur = con.execute(
        f"SELECT *, count(*) OVER () AS total FROM ({sql}) "
        f"ORDER BY {col.caption_id}, {col.level}, {col.candidate} LIMIT ? OFFSET ?",
        [*params, f.limit, f.offset])
    return _rows_with_total(cur)


def _rows_with_total(cur: duckdb.DuckDBPyConnection) -> tuple[int, list[dict[str, Any]]]:
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    total = int(rows[0].pop("total")) if rows else 0
    for r in rows:
        r.pop("total", None)
    return total, rows


def splits(con: duckdb.DuckDBPyConnection, v: Version) -> list[str]:
    rows = con.execute(
        f"SELECT DISTINCT {col.split} FROM read_parquet(?) ORDER BY 1", [v.captions]).fetchall()
    return [str(r[0]) for r in rows]


def score_quantiles(con: duckdb.DuckDBPyConnection, v: Version
                    ) -> dict[tuple[str, int], dict[str, float | None]]:
    """Count, mean and quantiles of every distribution score per level (for drift)."""
    qs = ", ".join(str(q) for q in DRIFT_QUANTILES)
    parts = ", ".join(
        f"count({c}) FILTER (NOT isnan({c})), avg({c}) FILTER (NOT isnan({c})), "
        f"quantile_cont({c}, [{qs}]) FILTER (NOT isnan({c}))" for c, _ in DIST_SCORES)
    rows = con.execute(
        f"SELECT {col.level}, {parts} FROM read_parquet(?) GROUP BY 1 ORDER BY 1", [v.scores]
    ).fetchall()
    out: dict[tuple[str, int], dict[str, float | None]] = {}
    for lv, *vals in rows:
        for i, (c, _) in enumerate(DIST_SCORES):
            n, mean, q = vals[3 * i: 3 * i + 3]
            stats: dict[str, float | None] = {"n": n, "mean": mean}
            for qq, x in zip(DRIFT_QUANTILES, q or [None] * len(DRIFT_QUANTILES), strict=True):
                stats[f"q{int(qq * 100):02d}"] = x
            out[(c, int(lv))] = stats
    return out


def status_changes(con: duckdb.DuckDBPyConnection, old: Version, new: Version, limit: int = 50
                   ) -> tuple[dict[tuple[str, str], int], list[dict[str, Any]]]:
    """(caption, level) pairs whose status differs between two versions.

    Status per version: accepted (has an accepted paraphrase), rejected (candidates but none
    accepted) or absent. Returns counts per (old status, new status) and the first rows.
    """
    def status_of(tag: str) -> str:
        return f"""{tag} AS (
            SELECT p.{col.caption_id}, p.{col.level},
                   CASE WHEN a.{col.caption_id} IS NULL THEN 'rejected' ELSE 'accepted' END AS st
            FROM (SELECT DISTINCT {col.caption_id}, {col.level} FROM read_parquet(?)) p
            LEFT JOIN (SELECT DISTINCT {col.caption_id}, {col.level} FROM read_parquet(?)) a
            USING ({col.caption_id}, {col.level}))"""
    sql = f"""
        WITH {status_of('o')}, {status_of('n')},
        d AS (
            SELECT {col.caption_id}, {col.level}, coalesce(o.st, 'absent') AS old_status,
                   coalesce(n.st, 'absent') AS new_status
            FROM o FULL JOIN n USING ({col.caption_id}, {col.level})
            WHERE o.st IS DISTINCT FROM n.st
        )
    """
    params = [old.scores, old.accepted, new.scores, new.accepted]
    agg = con.execute(sql + " SELECT old_status, new_status, count(*) FROM d GROUP BY 1, 2",
                      params).fetchall()
    rows = con.execute(
        sql + f""" SELECT d.*, c.{col.caption}
        FROM d LEFT JOIN (SELECT {col.caption_id}, any_value({col.caption}) AS {col.caption}
                          FROM read_parquet(?) GROUP BY 1) c USING ({col.caption_id})
        ORDER BY {col.caption_id}, {col.level} LIMIT ?""",
        [*params, new.captions, limit],
    )
    names = [x[0] for x in rows.description]
    return ({(str(a), str(b)): int(n) for a, b, n in agg},
            [dict(zip(names, r, strict=True)) for r in rows.fetchall()])
