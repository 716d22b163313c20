"""The stage contract: a stage takes its config and inputs, writes its files through the
layout, and returns one `StageStats`.

In the spirit of datatrove's `PipelineStep` and its stats: whatever a stage does inside, what it
reports has one shape, so the generation manifest, the gate summary, the Prefect artifacts, the
published corpus manifest and the dashboard all read the same fields. The core fields (stage,
status, rows_in, rows_out, rejected, wall_s) mean the same for every stage; `counts` holds a
stage's own numbers and `extra` everything else (versions, reasons, per-level tables).

Files written before this shape existed (flat generation manifests, the gate's old
summary.json) still load: `StageStats.from_dict(d, legacy=STAGE)` reads their old keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from robustclap.contracts.errors import RobustclapError

STATS_VERSION = 1
Status = Literal["complete", "incomplete", "failed"]
STATUSES: tuple[str, ...] = ("complete", "incomplete", "failed")
Number = int | float | None
_CORE = ("rows_in", "rows_out", "rejected", "wall_s")


def is_number(v: object) -> bool:
    """A count value: an int or float (not a bool), or None (not recorded)."""
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


@dataclass(frozen=True)
class StageStats:
    """What one run of one stage did.

    rows_in: the rows this run took on; rows_out: the rows it wrote as usable output;
    rejected: the rows it wrote with a reason instead (an ingest reject, a failed generation,
    a gate rejection). rows_in == rows_out + rejected always: no row is dropped silently (rows
    a run skipped because an earlier run committed them are not taken on; a stage counts them
    in `counts`). wall_s: the run's wall time (None: not recorded, e.g. in an older file).
    """

    stage: str
    status: Status
    rows_in: int
    rows_out: int
    rejected: int
    wall_s: float | None
    counts: Mapping[str, Number] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.stage, str) or not self.stage:
            raise RobustclapError(f"stage stats: stage must be a name, got {self.stage!r}")
        if self.status not in STATUSES:
            raise RobustclapError(f"{self.stage} stats: status {self.status!r} is not one of "
                                  f"{', '.join(STATUSES)}")
        for name in ("rows_in", "rows_out", "rejected"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise RobustclapError(f"{self.stage} stats: {name} must be a count >= 0, "
                                      f"got {v!r}")
        if self.rows_in != self.rows_out + self.rejected:
            raise RobustclapError(f"{self.stage} stats: rows_in ({self.rows_in}) != rows_out "
                                  f"({self.rows_out}) + rejected ({self.rejected}): rows were "
                                  "lost or counted twice")
        if self.wall_s is not None and (not is_number(self.wall_s) or not math.isfinite(
                self.wall_s) or self.wall_s < 0):
            raise RobustclapError(f"{self.stage} stats: wall_s must be seconds >= 0 or None, "
                                  f"got {self.wall_s!r}")
        bad = {k: v for k, v in self.counts.items() if not isinstance(k, str)
               or not is_number(v)}
        if bad:
            raise RobustclapError(f"{self.stage} stats: counts must map names to numbers "
                                  f"(or None), got {bad}")
        # private copies: a caller's dict changed later cannot change frozen stats
        object.__setattr__(self, "counts", dict(self.counts))
        object.__setattr__(self, "extra", dict(self.extra))

    def count(self, name: str) -> int | float:
        """A core field or a count by name; 0 when absent or not recorded."""
        value = getattr(self, name) if name in _CORE else self.counts.get(name)
        return value or 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form every stats file holds (manifest.json, summary.json)."""
        return {"stats_version": STATS_VERSION, "stage": self.stage, "status": self.status,
                "rows_in": self.rows_in, "rows_out": self.rows_out, "rejected": self.rejected,
                "wall_s": self.wall_s, "counts": dict(self.counts), "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], legacy: str | None = None) -> StageStats:
        """Read `to_dict`'s form; with `legacy` (a stage name), a file written before it."""
        if not isinstance(d, Mapping):
            raise RobustclapError(f"stage stats: expected a JSON object, got {type(d).__name__}")
        if "stage" not in d:
            reader = _LEGACY.get(legacy or "")
            if reader is None:
                raise RobustclapError("stage stats: no 'stage' field (not a stats file, or an "
                                      "old file of a stage without a legacy reader)")
            return reader(d)
        version = d.get("stats_version", STATS_VERSION)
        if not isinstance(version, int) or version > STATS_VERSION:
            raise RobustclapError(f"stage stats: stats_version {version!r} is newer than this "
                                  f"robustclap reads ({STATS_VERSION}); upgrade robustclap")
        missing = [k for k in ("status", *_CORE) if k not in d]
        if missing:
            raise RobustclapError(f"{d['stage']} stats: missing {', '.join(missing)}")
        for name in ("counts", "extra"):
            if not isinstance(d.get(name, {}), Mapping):
                raise RobustclapError(f"{d['stage']} stats: {name} must be an object")
        return cls(stage=d["stage"], status=d["status"], rows_in=d["rows_in"],
                   rows_out=d["rows_out"], rejected=d["rejected"], wall_s=d["wall_s"],
                   counts=d.get("counts", {}), extra=d.get("extra", {}))


def read_stats(path: Path, legacy: str | None = None) -> StageStats:
    """A stats file (any stage); an unreadable one is one clear error naming it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RobustclapError(f"cannot read {path}: {exc}") from exc
    try:
        return StageStats.from_dict(data, legacy=legacy)
    except RobustclapError as exc:
        raise RobustclapError(f"{path}: {exc}") from exc


def write_stats(stats: StageStats, *paths: Path) -> str:
    """Write the stats as JSON to each path (e.g. manifest.json and manifests/RUN.json)."""
    text = json.dumps(stats.to_dict(), indent=2, default=str)
    for path in paths:
        Path(path).write_text(text, encoding="utf-8")
    return text


def total(stats: Iterable[StageStats], name: str) -> int | float:
    """A core field or count summed over several runs (e.g. every regeneration round)."""
    return sum(s.count(name) for s in stats)


# -- the stage contract --------------------------------------------------------------------
ConfigT = TypeVar("ConfigT", contravariant=True)


class Stage(Protocol[ConfigT]):
    """What a stage is: its config and inputs in, files written under `out`, stats back.

    What a run lends a stage (an engine, the resolved model, a shard runner) comes as keyword
    arguments: the caller owns their lifetime (pipeline/runner.py, flows/paraphrase.py)."""

    def __call__(self, inputs: Any, out: Path, config: ConfigT, /) -> StageStats: ...


# -- files written before StageStats ---------------------------------------------------------
def _split(d: Mapping[str, Any], skip: Iterable[str] = ()) -> tuple[dict, dict]:
    """Numbers to counts, everything else to extra."""
    skip = set(skip)
    counts = {k: v for k, v in d.items() if k not in skip and is_number(v)}
    extra = {k: v for k, v in d.items() if k not in skip and k not in counts}
    return counts, extra


def _int(v: Any) -> int:
    return int(v) if is_number(v) and v is not None and v >= 0 else 0


def _status(v: Any) -> Status:
    return v if v in STATUSES else "complete"


def _legacy_generate(d: Mapping[str, Any]) -> StageStats:
    """A flat generation manifest (llm_calls, rows_written, ... at the top level)."""
    counts, extra = _split(d, ("status", "wall_s"))
    written, failed = _int(d.get("rows_written")), _int(d.get("failed_rows"))
    ok = _int(d["ok_rows"]) if "ok_rows" in d else max(written - failed, 0)
    wall = d.get("wall_s")
    return StageStats("generate", _status(d.get("status")),
                      rows_in=ok + failed, rows_out=ok,
                      rejected=failed, wall_s=float(wall) if is_number(wall) and wall is not None
                      else None, counts=counts, extra=extra)


def _legacy_gate(d: Mapping[str, Any]) -> StageStats:
    """The gate's summary.json before StageStats: gate_version, counts, levels, quantiles."""
    old = d.get("counts") if isinstance(d.get("counts"), Mapping) else {}
    accepted = _int(old.get("accepted"))
    rejected = _int(old["rejected"]) if "rejected" in old \
        else max(_int(old.get("candidates")) - accepted, 0)
    counts, _ = _split(old, ("candidates", "accepted", "rejected"))
    extra = {k: v for k, v in d.items() if k != "counts"}
    return StageStats("gate", "complete", rows_in=accepted + rejected, rows_out=accepted,
                      rejected=rejected, wall_s=None, counts=counts, extra=extra)


_LEGACY = {"generate": _legacy_generate, "gate": _legacy_gate}
