"""The gate summary: counts, pass rate of every gate per level, score quantiles.

Counts are tallied while rows stream by; quantiles are computed afterwards by DuckDB straight
from scores.parquet, so neither needs the table in memory. The summary is the gate's
StageStats (robustclap/contracts/stage.py): summary.json holds its dict, summary.md renders it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustclap.contracts import layout
from robustclap.contracts.schema import col
from robustclap.contracts.stage import StageStats, write_stats
from robustclap.quality.decide import ALL_GATES, EMPTY, GENERATION_FAILED, SURPLUS, Candidate

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_NOT_SCORED_GATES = (GENERATION_FAILED, EMPTY)


@dataclass
class Tally:
    """Per-level counters filled while the gate streams rows."""

    candidates: Counter[int] = field(default_factory=Counter)
    scored: Counter[int] = field(default_factory=Counter)
    accepted: Counter[int] = field(default_factory=Counter)
    failed: defaultdict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    reasons: defaultdict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    captions: int = 0
    regenerate: Counter[int] = field(default_factory=Counter)

    def add(self, c: Candidate) -> None:
        self.candidates[c.level] += 1
        if c.failed[:1] not in ([GENERATION_FAILED], [EMPTY]):
            self.scored[c.level] += 1
        for gate in c.failed:
            self.failed[c.level][gate] += 1
        if c.rank is not None:
            self.accepted[c.level] += 1
        else:
            self.reasons[c.level][c.reason or SURPLUS] += 1

    def add_caption(self, missing_levels: list[int]) -> None:
        self.captions += 1
        for level in missing_levels:
            self.regenerate[level] += 1

    def add_group(self, group: list[Candidate], missing_levels: list[int]) -> None:
        """One caption's decided candidates and the levels it gets none for."""
        for c in group:
            self.add(c)
        self.add_caption(missing_levels)

    def per_level(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for level in sorted(self.candidates):
            n_all, n_scored = self.candidates[level], self.scored[level]
            rates = {}
            for gate in ALL_GATES:
                n = n_all if gate in _NOT_SCORED_GATES else n_scored
                rates[gate] = None if n == 0 else 1 - self.failed[level][gate] / n
            out[str(level)] = {
                "candidates": n_all,
                "scored": n_scored,
                "accepted": self.accepted[level],
                "rejected": n_all - self.accepted[level],
                "captions_to_regenerate": self.regenerate[level],
                "pass_rate": rates,
                "reject_reasons": dict(self.reasons[level].most_common()),
            }
        return out


def quantiles(scores_path: Path, columns: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Quantiles of every numeric score per level, over the scored candidates.

    Approximate (DuckDB's t-digest `approx_quantile`): memory stays bounded however many
    candidates there are, where exact quantiles hold every value of every column at once.
    """
    import duckdb

    numeric = [c for c in columns if c not in (col.norm_identical, col.list_like, col.meta_text,
                                               col.echo, col.definition, col.fragment,
                                               col.same_content, col.alignment)
               ] + [col.rank_score]
    qs = ", ".join(
        f"approx_quantile({c}, [{', '.join(map(str, QUANTILES))}]) AS {c}" for c in numeric
    )
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT {col.level}, {qs} FROM read_parquet(?) GROUP BY {col.level} "
            f"ORDER BY {col.level}", [str(scores_path)],
        ).fetchall()
    finally:
        con.close()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for level, *values in rows:
        out[str(level)] = {
            c: ({f"q{int(q * 100):02d}": round(float(x), 4) for q, x in zip(QUANTILES, v,
                                                                              strict=True)}
                if v is not None else {})
            for c, v in zip(numeric, values, strict=True)
        }
    return out


def gate_stats(tally: Tally, gate_version: str, wall_s: float, cache: dict[str, int],
               quantile_table: dict[str, Any]) -> StageStats:
    """The gate run as StageStats: every candidate is accepted or rejected (with a reason)."""
    candidates, accepted = sum(tally.candidates.values()), sum(tally.accepted.values())
    return StageStats(
        "gate", "complete", rows_in=candidates, rows_out=accepted,
        rejected=candidates - accepted, wall_s=round(wall_s, 3),
        counts={"captions": tally.captions, "regenerate": sum(tally.regenerate.values()),
                "scores_computed": cache["computed"], "cache_hits": cache["hits"],
                "cache_misses": cache["misses"]},
        extra={"gate_version": gate_version, "levels": tally.per_level(),
               "quantiles": quantile_table},
    )


def write_summary(out_dir: Path, stats: StageStats) -> None:
    """Write summary.json (the stats) and summary.md (the same, for people)."""
    write_stats(stats, out_dir / layout.SUMMARY_FILE)
    (out_dir / layout.SUMMARY_MD_FILE).write_text(markdown(stats), encoding="utf-8")


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def markdown(stats: StageStats) -> str:
    c, x = stats.counts, stats.extra
    lines = [
        f"# Gate summary (gate version `{x.get('gate_version')}`)",
        "",
        f"{stats.rows_in} candidates of {c.get('captions')} captions: {stats.rows_out} "
        f"accepted, {stats.rejected} rejected; {c.get('regenerate')} (caption, level) pairs to "
        f"regenerate. {c.get('scores_computed')} scores computed, {c.get('cache_hits')} read "
        "from the cache.",
        "",
        "## Pass rate per gate",
        "",
        "Generation failures and empty outputs are rates over all candidates; every other gate "
        "over the scored candidates.",
        "",
    ]
    levels = x.get("levels") or {}
    lines.append("| gate | " + " | ".join(f"level {lv}" for lv in levels) + " |")
    lines.append("|---|" + "---|" * len(levels))
    for gate in ALL_GATES:
        lines.append(f"| {gate} | " + " | ".join(
            _fmt(levels[lv]["pass_rate"][gate]) for lv in levels) + " |")
    lines += ["", "## Counts per level", "", "| | " + " | ".join(levels) + " |",
              "|---|" + "---|" * len(levels)]
    for key in ("candidates", "scored", "accepted", "rejected", "captions_to_regenerate"):
        lines.append(f"| {key} | " + " | ".join(str(levels[lv][key]) for lv in levels) + " |")
    lines += ["", "## Score quantiles", ""]
    for lv, per_col in (x.get("quantiles") or {}).items():
        lines += [f"### Level {lv}", "", "| score | q05 | q25 | q50 | q75 | q95 |",
                  "|---|---|---|---|---|---|"]
        for name, q in per_col.items():
            lines.append(f"| {name} | " + " | ".join(
                _fmt(q.get(k)) for k in ("q05", "q25", "q50", "q75", "q95")) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"
