"""The overview of one version: SQL counts plus the generation rounds' StageStats (timings).

Shared by the web app and the static report so both show exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from robustclap.contracts.schema import col
from robustclap.contracts.stage import StageStats, total
from robustclap.dashboard import queries
from robustclap.dashboard.corpus import Version


@dataclass
class Overview:
    version: int
    counts: dict[str, int]
    candidates_per_level: dict[int, int]
    accepted_per_level: dict[int, int]
    pass_rates: dict[int, dict[str, float | None]]
    failed_by_reason: list[tuple[str, int]]
    throughput: dict[str, float | None]
    thresholds: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)
    filtered: bool = False  # the charts show only the rows the filters select


def generation_stats(v: Version) -> list[StageStats]:
    """The version's generation rounds (manifests older than StageStats load too)."""
    return [StageStats.from_dict(m, legacy="generate") for m in v.generation_manifests()]


def provenance(manifest: dict[str, Any], generation: list[StageStats]) -> dict[str, str]:
    """Model, prompt and gate versions of a version (its manifest; the generation rounds'
    for a version published without them)."""
    first = generation[0].extra if generation else {}

    def pick(key: str) -> Any:
        return manifest.get(key) if manifest.get(key) is not None else first.get(key)

    prompts = pick("prompt_versions") or {}
    return {
        "model": str(pick("model") or "–"),
        "model revision": str(pick("model_revision") or "–"),
        "prompt versions": ", ".join(f"level {lv}: {h}" for lv, h in sorted(prompts.items()))
                           or "–",
        "gate version": str(manifest.get("gate_version") or "–"),
    }


def throughput(rounds: list[StageStats], accepted: int) -> dict[str, float | None]:
    """Rows/s and completion tokens/s over every generation round (the generation stage's
    own definitions, over generate_wall_s), and accepted paraphrases per hour of total wall
    time (engine start included: that is what a run costs)."""
    wall = float(total(rounds, "wall_s"))
    gen_wall = sum(float(s.count("generate_wall_s") or s.count("wall_s")) for s in rounds)
    rows = total(rounds, "rows_written")
    tokens = total(rounds, "completion_tokens")
    return {
        "rounds": float(len(rounds)),
        "llm_calls": float(total(rounds, "llm_calls")),
        "wall_s": wall or None,
        "rows_per_s": rows / gen_wall if gen_wall else None,
        "tokens_per_s": tokens / gen_wall if gen_wall else None,
        "accepted_per_hour": accepted / (wall / 3600) if wall else None,
    }


def thresholds(gate_config: dict[str, Any]) -> dict[str, dict[int, list[float]]]:
    """The configured limits of each distribution score per level (null = gate off)."""
    gates = gate_config.get("gates", {}) or {}
    deg, l1, l2 = (gates.get(k, {}) or {} for k in ("degenerate", "level1", "level2"))
    spec: dict[str, dict[int, list[Any]]] = {
        col.sbert_cos: {1: [l1.get("sbert_min")], 2: [l2.get("sbert_min")]},
        col.bertscore_f1: {1: [l1.get("bertscore_f1_min")], 2: [l2.get("bertscore_f1_min")]},
        col.content_recall: {1: [l1.get("content_recall_min")],
                             2: [l2.get("content_recall_max")]},
        col.content_novelty: {1: [l1.get("content_novelty_max")],
                              2: [l2.get("content_novelty_min")]},
        col.length_ratio: {lv: [deg.get("length_ratio_min"), deg.get("length_ratio_max")]
                           for lv in (1, 2)},
    }
    return {score: {lv: [float(x) for x in xs if x is not None] for lv, xs in per.items()}
            for score, per in spec.items()}


def build(con: duckdb.DuckDBPyConnection, v: Version, f: queries.Filters | None = None
          ) -> Overview:
    """Cards count the whole version; the per-level table and the charts follow `f`."""
    counts = queries.counts(con, v)
    generation = generation_stats(v)
    return Overview(
        version=v.number,
        counts=counts,
        candidates_per_level=queries.candidates_per_level(con, v, f),
        accepted_per_level=queries.accepted_per_level(con, v),
        pass_rates=queries.pass_rates(con, v, f),
        failed_by_reason=queries.failed_by_reason(con, v, f),
        throughput=throughput(generation, counts["accepted"]),
        thresholds=thresholds(v.gate_config()),
        provenance=provenance(v.manifest(), generation),
        filtered=bool(f and f.selects_rows),
    )


def distributions(con: duckdb.DuckDBPyConnection, v: Version, ov: Overview, bins: int = 30,
                  f: queries.Filters | None = None, tail: float = 0.0
                  ) -> tuple[dict[str, tuple[float, float]], dict]:
    """Histogram ranges (widened to include every threshold, so each line is drawn) and counts.

    With `tail` (e.g. 0.005) the range spans the tail..1-tail quantiles: the few values beyond
    are counted in the end bins instead of squashing the rest of the chart."""
    ranges = queries.score_ranges(con, v, f, tail=tail)
    for score, (lo, hi) in list(ranges.items()):
        lims = [x for xs in ov.thresholds.get(score, {}).values() for x in xs]
        lo, hi = min([lo, *lims]), max([hi, *lims])
        ranges[score] = (lo, hi if hi > lo else lo + 1.0)
    return ranges, queries.histograms(con, v, ranges, bins, f)
