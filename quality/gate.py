"""The gate run: candidates -> scores -> decisions -> accepted / rejected / regenerate + summary.

Candidates are streamed, never loaded whole: DuckDB reads the shards and yields record batches
of `batch_rows` rows, sorting one key range of about `sort_rows` rows at a time so that memory
does not grow with the run (quality/ranges.py), and the outputs are appended batch by batch.

Pass 1 scores every distinct (caption, paraphrase) pair that the cache lacks, in batches that
never split one caption's pairs, so each caption is encoded once. Pass 2 reads the candidates
ordered by (caption_id, level, candidate), so all candidates of a caption, whichever
regeneration round wrote them, are decided together, with their scores read from the cache.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import (
    CANDIDATES,
    CORPUS,
    GATE_REJECTED,
    GATE_SCORES,
    REGENERATE,
    check_file,
    col,
    status,
)
from robustclap.contracts.stage import StageStats
from robustclap.quality.cache import ScoreCache
from robustclap.quality.config import GateConfig
from robustclap.quality.decide import (
    EMPTY,
    GENERATION_FAILED,
    Candidate,
    apply_judge,
    apply_learned,
    failed_gates,
    rank_score,
    select,
)
from robustclap.quality.feedback import pick
from robustclap.quality.io import TableWriter
from robustclap.quality.ranges import Range, key_ranges, range_batches, range_filter
from robustclap.quality.scoring import Pair, Scoring
from robustclap.quality.summary import Tally, gate_stats, quantiles, write_summary

SORT_ROWS = 20_000  # candidates per sorted range: bounds what DuckDB holds at once

# the candidate columns that the outputs copy, and those plus what the decisions read
BASE_COLUMNS = (col.caption_id, col.clip_id, col.split, col.source, col.caption, col.level,
                col.candidate, col.paraphrase)
ROW_COLUMNS = (*BASE_COLUMNS, col.status, col.fail_reason)

Log = Callable[[str], None]
Advance = Callable[[int], None]
# progress(label, total, unit) -> a context yielding advance(n): pipeline.progress.stage_progress
Progress = Callable[[str, int, str], AbstractContextManager[Advance]]


def _no_progress(label: str, total: int, unit: str) -> AbstractContextManager[Advance]:
    return nullcontext(lambda n: None)


def candidate_files(input_dir: Path) -> list[Path]:
    """The CANDIDATES shards of a generation folder (or of a folder of shards)."""
    folder = input_dir / layout.CANDIDATES_DIR
    folder = folder if folder.is_dir() else input_dir
    files = sorted(folder.glob("*.parquet"))
    if not files:
        raise RobustclapError(f"no candidate shards in {folder} (expected candidates/*.parquet)")
    for f in files:
        check_file(CANDIDATES, f)
    return files


def _connect(tmp_dir: Path, memory_limit: str) -> Any:
    """DuckDB with a memory limit: sorts larger than it spill to `tmp_dir`."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET memory_limit = ?", [memory_limit])
    except duckdb.Error as exc:
        con.close()
        raise RobustclapError(f"invalid memory limit {memory_limit!r} (e.g. 1GB): {exc}") from exc
    # one thread: each DuckDB thread decodes its own row group (up to a whole shard's), so a
    # second one added ~10 MiB at 1,000,000 rows; the sorts here are a few seconds either way
    con.execute("SET threads = 1")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET temp_directory = ?", [tmp_dir.as_posix()])
    return con


_SCORED = f"{col.status} = '{status.ok}' AND {col.paraphrase} IS NOT NULL"


def _count_by_range(con: Any, files: list[str], parts: list[Range], key: str, select: str,
                    where: str = "TRUE") -> int:
    """A count query summed over key ranges (bounded memory). fetchall, not fetchone: DuckDB
    refuses the next query while a result is still open."""
    n = 0
    for part in parts:
        cond, params = range_filter(key, part)
        n += con.execute(f"SELECT {select} FROM read_parquet(?) WHERE {where} AND {cond}",
                         [files, *params]).fetchall()[0][0]
    return n


def _distinct_pairs(con: Any, files: list[str], parts: list[Range]) -> int:
    """Pass 1's total for the progress bar."""
    return _count_by_range(con, files, parts, col.caption,
                           f"count(DISTINCT ({col.caption}, {col.paraphrase}))", _SCORED)


def _score_pass(con: Any, files: list[str], scoring: Scoring, parts: list[Range],
                batch_rows: int, log: Log, advance: Advance) -> int:
    """Pass 1: fill the cache for every distinct pair; batches never split a caption."""
    sql = (
        f"SELECT DISTINCT {col.caption}, {col.paraphrase} FROM read_parquet(?) "
        f"WHERE {_SCORED} AND {{where}} "
        f"ORDER BY {col.caption}, {col.paraphrase}"
    )
    buf: list[Pair] = []
    computed = 0
    for rows in range_batches(con, sql, files, col.caption, parts, batch_rows):
        advance(len(rows))
        for r in rows:
            pair = (r[col.caption], r[col.paraphrase])
            if not pair[1].strip():
                continue
            if len(buf) >= batch_rows and buf[-1][0] != pair[0]:
                computed += scoring.ensure(buf)
                log(f"scored {computed} new pair scores")
                buf = []
            buf.append(pair)
    if buf:
        computed += scoring.ensure(buf)
    return computed


def _caption_groups(con: Any, files: list[str], parts: list[Range], batch_rows: int
                    ) -> Iterator[list[list[dict]]]:
    """Lists of complete captions (each a list of its candidate rows), one list per batch.

    Only the columns the decisions and outputs use are read: the sort holds whatever is
    selected, and raw replies or prompts would only weigh it down.
    """
    sql = (
        f"SELECT {', '.join(ROW_COLUMNS)} FROM read_parquet(?) WHERE {{where}} "
        f"ORDER BY {col.caption_id}, {col.level}, {col.candidate}"
    )
    current: list[dict] = []
    for rows in range_batches(con, sql, files, col.caption_id, parts, batch_rows):
        done: list[list[dict]] = []
        for r in rows:
            if current and r[col.caption_id] != current[0][col.caption_id]:
                done.append(current)
                current = []
            current.append(r)
        if done:
            yield done
    if current:
        yield [current]


def _candidate(row: dict) -> Candidate:
    text = row[col.paraphrase]
    cand = Candidate(row=row, level=int(row[col.level]), index=int(row[col.candidate]), text=text)
    if row[col.status] != status.ok:
        cand.failed = [GENERATION_FAILED]
    elif text is None or not text.strip():
        cand.failed = [EMPTY]
    return cand


def _decide(captions: list[list[dict]], scoring: Scoring, config: GateConfig,
            judge: Any = None) -> list[list[Candidate]]:
    cands = [[_candidate(r) for r in rows] for rows in captions]
    to_score = [c for group in cands for c in group if not c.failed]
    found = scoring.lookup([(c.row[col.caption], c.text) for c in to_score])
    for c in to_score:
        c.scores = dict(found[(c.row[col.caption], c.text)])
        apply_learned(c.scores, config, c.level)
        c.scores[col.rank_score] = rank_score(c.scores)
        c.failed = failed_gates(c.scores, config, c.level)
    if judge is not None:
        apply_judge(judge, [(c.row[col.caption], c.text or "", c.level, c.scores, c.failed)
                            for c in to_score], config)
    for group in cands:
        for level in sorted({c.level for c in group}):
            select([c for c in group if c.level == level], config)
    return cands


def run_gate(input_dir: str | Path, out_dir: str | Path, config: GateConfig,
             cache_path: str | Path | None = None, batch_rows: int = 1024,
             memory_limit: str = "1GB", log: Log | None = None,
             sort_rows: int = SORT_ROWS, judge: Any = None,
             progress: Progress | None = None) -> StageStats:
    """Gate every candidate under `input_dir` into `out_dir` (see module docstring).

    `sort_rows` bounds the rows that one DuckDB sort holds (quality/ranges.py); the outputs
    do not depend on it. `judge` (quality.judge.Judge) runs the LLM judge gate when the config
    switches it on. `progress` (e.g. pipeline.progress.stage_progress) gets one bar for the
    scoring pass (distinct pairs) and one for the decisions (candidate rows). Returns the
    gate's StageStats, also written to out_dir/summary.json.
    """
    if config.judge.enabled and judge is None:
        raise RobustclapError("the gate config switches the LLM judge on (judge.enabled) but no "
                              "engine was given: pass --judge-model MODEL or switch it off")
    started = time.perf_counter()
    log = log or (lambda _msg: None)
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    files = [str(f) for f in candidate_files(input_dir)]
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / ".duckdb_tmp"
    tmp.mkdir(exist_ok=True)
    con = _connect(tmp, memory_limit)
    try:
        stats = _run(con, files, input_dir, out_dir, config, cache_path, batch_rows,
                     sort_rows, log, judge, progress, started)
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"gate {stats.extra['gate_version']}: {stats.rows_out} accepted, {stats.rejected} "
        f"rejected, {stats.counts['regenerate']} (caption, level) to regenerate")
    return stats


def _duplicates(con: Any, files: list[str], parts: list[Range]) -> int:
    """Rows that repeat a (caption_id, level, candidate), counted range by range."""
    return _count_by_range(
        con, files, parts, col.caption_id,
        f"count(*) - count(DISTINCT ({col.caption_id}, {col.level}, {col.candidate}))")


def _run(con: Any, files: list[str], input_dir: Path, out_dir: Path, config: GateConfig,
         cache_path: str | Path | None, batch_rows: int, sort_rows: int, log: Log,
         judge: Any, progress: Progress | None, started: float) -> StageStats:
    """The gate run behind run_gate's DuckDB connection; `started` is when run_gate began
    (the wall time in the stats covers the whole call)."""
    total = con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchone()[0]
    by_id = key_ranges(con, files, col.caption_id, total, sort_rows)
    dupes = _duplicates(con, files, by_id)
    if dupes:
        raise RobustclapError(
            f"{input_dir}: {dupes} duplicate (caption_id, level, candidate) rows; "
            "every candidate must appear once"
        )
    levels = sorted(r[0] for r in con.execute(
        f"SELECT DISTINCT {col.level} FROM read_parquet(?)", [files]).fetchall())
    version = config.version
    tally = Tally()
    with ScoreCache(cache_path or out_dir / layout.SCORE_CACHE_FILE) as cache:
        scoring = Scoring(config, cache)
        by_caption = key_ranges(con, files, col.caption, total, sort_rows)
        bar = progress or _no_progress
        n_pairs = _distinct_pairs(con, files, by_caption) if progress else 0
        with bar("gate: score", n_pairs, "pairs") as advance:
            _score_pass(con, files, scoring, by_caption, batch_rows, log, advance)
        score_columns = scoring.columns
        with (
            GateTables.open(out_dir, version, score_columns) as tables,
            bar("gate: decide", total, "rows") as advance,
        ):
            for captions in _caption_groups(con, files, by_id, batch_rows):
                for group in _decide(captions, scoring, config, judge):
                    missing = _missing_levels(group, levels)
                    tally.add_group(group, missing)
                    tables.write(group, missing)
                advance(sum(len(group) for group in captions))
        cache_info = {"computed": scoring.computed, "hits": cache.stats.hits,
                      "misses": cache.stats.misses}
    (out_dir / layout.GATE_CONFIG_FILE).write_text(
        f"# gate version {version}\n" + yaml.safe_dump(config.model_dump(mode="json"),
                                                       sort_keys=False),
        encoding="utf-8",
    )
    stats = gate_stats(tally, version, time.perf_counter() - started, cache_info,
                       quantiles(out_dir / layout.SCORES_FILE, score_columns))
    write_summary(out_dir, stats)
    return stats


def _missing_levels(group: list[Candidate], levels: list[int]) -> list[int]:
    """The levels of this run that got no accepted candidate for this caption."""
    accepted = {c.level for c in group if c.rank is not None}
    return [lv for lv in levels if lv not in accepted]


def _score_row(c: Candidate, version: str, score_columns: list[str]) -> dict:
    """A GATE_SCORES row: every score, whether it passed, and which gates failed."""
    scores = {k: c.scores.get(k) for k in [*score_columns, col.meaning_p, col.wording_p,
                                           col.decision_note, col.rank_score]}
    return {
        col.caption_id: c.row[col.caption_id], col.level: c.level, col.candidate: c.index,
        col.status: c.row[col.status], **scores,
        col.passed: c.passed, col.failed_gates: list(c.failed), col.gate_version: version,
    }


def _accepted_row(c: Candidate, version: str) -> dict:
    """A CORPUS row: the candidate as training reads it, with its rank."""
    return {**{k: c.row[k] for k in BASE_COLUMNS}, col.rank: c.rank, col.gate_version: version}


def _rejected_row(c: Candidate, version: str) -> dict:
    """A GATE_REJECTED row: the candidate with the reason it was not kept."""
    return {**{k: c.row[k] for k in BASE_COLUMNS}, col.status: c.row[col.status],
            col.fail_reason: c.row[col.fail_reason], col.reason: c.reason,
            col.failed_gates: list(c.failed), col.gate_version: version}


@dataclass
class GateTables:
    """The four tables a gate run appends to, one caption at a time."""

    accepted: TableWriter
    rejected: TableWriter
    scores: TableWriter
    regenerate: TableWriter
    version: str
    score_columns: list[str]

    @classmethod
    @contextmanager
    def open(cls, out_dir: Path, version: str, score_columns: list[str]
             ) -> Iterator[GateTables]:
        with (
            TableWriter(CORPUS, out_dir / layout.ACCEPTED_FILE) as accepted,
            TableWriter(GATE_REJECTED, out_dir / layout.REJECTED_FILE) as rejected,
            TableWriter(GATE_SCORES, out_dir / layout.SCORES_FILE) as scores,
            TableWriter(REGENERATE, out_dir / layout.REGENERATE_FILE) as regenerate,
        ):
            yield cls(accepted, rejected, scores, regenerate, version, score_columns)

    def write(self, group: list[Candidate], missing_levels: list[int]) -> None:
        """One caption's decided candidates, and the levels to ask again."""
        kept = [c for c in group if c.rank is not None]
        dropped = [c for c in group if c.rank is None]
        self.accepted.write([_accepted_row(c, self.version) for c in kept])
        self.rejected.write([_rejected_row(c, self.version) for c in dropped])
        self.scores.write([_score_row(c, self.version, self.score_columns) for c in group])
        caption_id = group[0].row[col.caption_id]
        self.regenerate.write([_regenerate_row(caption_id, lv, group) for lv in missing_levels])


def _regenerate_row(caption_id: str, level: int, group: list[Candidate]) -> dict:
    """A (caption, level) to ask again, with the nearest miss and what the gate found in it."""
    found = pick([(c.text, c.failed, c.scores, c.scores.get("rank_score"))
                  for c in group if c.level == level], group[0].row[col.caption])
    previous, said = found if found else (None, None)
    return {col.caption_id: caption_id, col.level: level, col.previous: previous,
            col.feedback: said}
