"""Every column of every table robustclap writes, in one place.

Stages never spell a column name themselves: they use `col.*` and read or write whole tables
through `write_table` / `read_table`, which check the table's identity and schema version stored
in the Parquet file's key-value metadata. Writers write only `SCHEMA_VERSION`; a table of an
older version this project wrote (`OLDER_SCHEMAS`) is upgraded in memory when read (the columns
added since get their documented defaults, and the table's metadata records which), and a file
from a newer robustclap is refused with one message naming both versions.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.fsmode import default_mode

SCHEMA_VERSION = "2"  # 2: candidates and regenerate carry the regeneration feedback
META_TABLE = b"robustclap.table"
META_VERSION = b"robustclap.schema_version"
META_EXTRA = b"robustclap.extra"
# set on a table upgraded when read (and kept when it is written again): the version it was
# read as, and the columns that hold their defaults rather than written values
META_UPGRADED_FROM = b"robustclap.upgraded_from"
META_DEFAULTED = b"robustclap.defaulted"


class col:  # noqa: N801 - used as a namespace: col.caption_id
    """Column names shared by all tables."""

    # captions (ingest)
    caption_id = "caption_id"
    clip_id = "clip_id"
    split = "split"
    caption = "caption"
    source = "source"
    source_file = "source_file"
    source_row = "source_row"
    # ingest rejects
    raw = "raw"
    reason = "reason"
    # candidates (generate)
    level = "level"
    candidate = "candidate"
    input_text = "input_text"
    paraphrase = "paraphrase"
    status = "status"
    fail_reason = "fail_reason"
    raw_reply = "raw_reply"
    model = "model"
    model_revision = "model_revision"
    prompt_version = "prompt_version"
    sampling = "sampling"
    seed = "seed"
    attempt = "attempt"
    finish_reason = "finish_reason"
    prompt_tokens = "prompt_tokens"
    completion_tokens = "completion_tokens"
    latency_s = "latency_s"
    from_cache = "from_cache"
    run_id = "run_id"
    # regeneration with feedback: the rejected rewrite shown to the model and the gate's findings
    previous = "previous"
    feedback = "feedback"
    # corpus (gate output: accepted paraphrases; read by training)
    rank = "rank"
    gate_version = "gate_version"
    # quality (gate) columns: added by the gate stage below this line
    sbert_cos = "sbert_cos"
    bertscore_p = "bertscore_p"
    bertscore_r = "bertscore_r"
    bertscore_f1 = "bertscore_f1"
    content_recall = "content_recall"
    content_novelty = "content_novelty"
    token_edit = "token_edit"
    structure_edit = "structure_edit"
    number_diff = "number_diff"
    negation_diff = "negation_diff"
    order_violations = "order_violations"
    role_swaps = "role_swaps"
    reattachments = "reattachments"
    norm_identical = "norm_identical"
    length_ratio = "length_ratio"
    repeat_frac = "repeat_frac"
    english_share = "english_share"
    n_sentences = "n_sentences"
    list_like = "list_like"
    meta_text = "meta_text"
    echo = "echo"
    align_missing = "align_missing"
    align_added = "align_added"
    align_synonyms = "align_synonyms"
    align_synonym_sim = "align_synonym_sim"
    align_roles = "align_roles"
    align_wordnet = "align_wordnet"
    align_general = "align_general"
    align_specific = "align_specific"
    align_units = "align_units"
    cover_caption_min = "cover_caption_min"
    cover_caption_mean = "cover_caption_mean"
    cover_candidate_min = "cover_candidate_min"
    cover_candidate_mean = "cover_candidate_mean"
    extra_sentences = "extra_sentences"
    definition = "definition"
    fragment = "fragment"
    same_content = "same_content"
    alignment = "alignment"
    meaning_p = "meaning_p"
    wording_p = "wording_p"
    decision_note = "decision_note"
    rank_score = "rank_score"
    passed = "passed"
    failed_gates = "failed_gates"
    # scenes (bench/scenes: composed sound scenes with exact captions)
    reworded = "reworded"
    duration_s = "duration_s"
    events = "events"
    relations = "relations"


class status:  # noqa: N801 - namespace of the values of col.status
    ok = "ok"
    failed = "failed"


@dataclass(frozen=True)
class TableSpec:
    """A named table: its Arrow schema is the contract between stages."""

    name: str
    schema: pa.Schema
    doc: str

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)


def _f(name: str, typ: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


CAPTIONS = TableSpec(
    "captions",
    pa.schema(
        [
            _f(col.caption_id, pa.string()),
            _f(col.clip_id, pa.string()),
            _f(col.split, pa.string()),
            _f(col.caption, pa.string()),
            _f(col.source, pa.string()),
            _f(col.source_file, pa.string()),
            _f(col.source_row, pa.int64()),
        ]
    ),
    "One row per usable caption. caption_id is derived from (source, clip_id, caption text).",
)

INGEST_REJECTS = TableSpec(
    "ingest_rejects",
    pa.schema(
        [
            _f(col.source, pa.string()),
            _f(col.source_file, pa.string()),
            _f(col.source_row, pa.int64()),
            _f(col.clip_id, pa.string(), nullable=True),
            _f(col.raw, pa.string(), nullable=True),
            _f(col.reason, pa.string()),
        ]
    ),
    "Input rows that were not turned into captions, each with the reason.",
)

# The caption a candidate belongs to and its (level, candidate) slot: shared by every table
# that holds one row per candidate.
_CANDIDATE_KEY = [
    _f(col.caption_id, pa.string()),
    _f(col.clip_id, pa.string()),
    _f(col.split, pa.string()),
    _f(col.source, pa.string()),
    _f(col.caption, pa.string()),
    _f(col.level, pa.int8()),
    _f(col.candidate, pa.int16()),
]

CANDIDATES = TableSpec(
    "candidates",
    pa.schema(
        [
            *_CANDIDATE_KEY,
            _f(col.input_text, pa.string(), nullable=True),
            _f(col.paraphrase, pa.string(), nullable=True),
            _f(col.status, pa.string()),
            _f(col.fail_reason, pa.string(), nullable=True),
            _f(col.raw_reply, pa.string(), nullable=True),
            _f(col.model, pa.string()),
            _f(col.model_revision, pa.string()),
            _f(col.prompt_version, pa.string()),
            _f(col.sampling, pa.string()),
            _f(col.seed, pa.int64()),
            _f(col.attempt, pa.int16()),
            _f(col.finish_reason, pa.string(), nullable=True),
            _f(col.prompt_tokens, pa.int32()),
            _f(col.completion_tokens, pa.int32()),
            _f(col.latency_s, pa.float64()),
            _f(col.from_cache, pa.bool_()),
            _f(col.run_id, pa.string()),
            _f(col.feedback, pa.string(), nullable=True),
        ]
    ),
    "One row per (caption, level, candidate): the final attempt's paraphrase or failure "
    "(`feedback`: what the gate found in the rewrite shown to the model, in a regeneration "
    "round).",
)

CORPUS = TableSpec(
    "corpus",
    pa.schema(
        [
            *_CANDIDATE_KEY,
            _f(col.paraphrase, pa.string()),
            _f(col.rank, pa.int16()),
            _f(col.gate_version, pa.string()),
        ]
    ),
    "Accepted paraphrases: per (caption, level) the passing candidates, rank 0 = best.",
)

_GATE_SCORE_FIELDS = [
    _f(c, t, nullable=True)
    for c, t in [
        (col.sbert_cos, pa.float64()), (col.bertscore_p, pa.float64()),
        (col.bertscore_r, pa.float64()), (col.bertscore_f1, pa.float64()),
        (col.content_recall, pa.float64()), (col.content_novelty, pa.float64()),
        (col.token_edit, pa.float64()), (col.structure_edit, pa.float64()),
        (col.number_diff, pa.int32()), (col.negation_diff, pa.int32()),
        (col.order_violations, pa.int32()), (col.role_swaps, pa.int32()),
        (col.reattachments, pa.int32()), (col.norm_identical, pa.bool_()),
        (col.length_ratio, pa.float64()), (col.repeat_frac, pa.float64()),
        (col.english_share, pa.float64()), (col.n_sentences, pa.int32()),
        (col.list_like, pa.bool_()), (col.meta_text, pa.bool_()), (col.echo, pa.bool_()),
        (col.align_missing, pa.int32()), (col.align_added, pa.int32()),
        (col.align_synonyms, pa.int32()), (col.align_synonym_sim, pa.float64()),
        (col.align_roles, pa.int32()), (col.align_wordnet, pa.int32()),
        (col.align_general, pa.int32()), (col.align_specific, pa.int32()),
        (col.align_units, pa.int32()), (col.cover_caption_min, pa.float64()),
        (col.cover_caption_mean, pa.float64()), (col.cover_candidate_min, pa.float64()),
        (col.cover_candidate_mean, pa.float64()), (col.extra_sentences, pa.int32()),
        (col.definition, pa.bool_()), (col.fragment, pa.bool_()),
        (col.same_content, pa.bool_()), (col.alignment, pa.string()),
        (col.meaning_p, pa.float64()), (col.wording_p, pa.float64()),
        (col.decision_note, pa.string()), (col.rank_score, pa.float64()),
    ]
]

GATE_SCORES = TableSpec(
    "gate_scores",
    pa.schema(
        [
            _f(col.caption_id, pa.string()),
            _f(col.level, pa.int8()),
            _f(col.candidate, pa.int16()),
            _f(col.status, pa.string()),
            *_GATE_SCORE_FIELDS,
            _f(col.passed, pa.bool_()),
            _f(col.failed_gates, pa.list_(pa.string())),
            _f(col.gate_version, pa.string()),
        ]
    ),
    "One row per candidate: every gate score (null when there was no paraphrase to score), "
    "whether it passed every gate and the gates it failed.",
)

GATE_REJECTED = TableSpec(
    "gate_rejected",
    pa.schema(
        [
            *_CANDIDATE_KEY,
            _f(col.paraphrase, pa.string(), nullable=True),
            _f(col.status, pa.string()),
            _f(col.fail_reason, pa.string(), nullable=True),
            _f(col.reason, pa.string()),
            _f(col.failed_gates, pa.list_(pa.string())),
            _f(col.gate_version, pa.string()),
        ]
    ),
    "Every candidate not accepted (generation failures included): `reason` is the first "
    "failed gate, or 'surplus' for a passing candidate beyond the per-level quota.",
)

REGENERATE = TableSpec(
    "regenerate",
    pa.schema([_f(col.caption_id, pa.string()), _f(col.level, pa.int8()),
               _f(col.previous, pa.string(), nullable=True),
               _f(col.feedback, pa.string(), nullable=True)]),
    "(caption, level) pairs with no accepted candidate: input of `generate --regenerate`; "
    "`previous` (the best rejected rewrite) and `feedback` (what the gate found in it) go into "
    "the next round's prompt when both are set.",
)

SCENES = TableSpec(
    "scenes",
    pa.schema(
        [
            _f(col.clip_id, pa.string()),
            _f(col.split, pa.string()),
            _f(col.caption, pa.string()),
            _f(col.reworded, pa.string()),
            _f(col.duration_s, pa.float64()),
            _f(col.events, pa.string()),
            _f(col.relations, pa.list_(pa.string())),
        ]
    ),
    "One composed sound scene: its recipe (events as JSON: class, source clip, count, onsets, "
    "gain), its caption and its held-out rewording (training/scenes).",
)

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (CAPTIONS, INGEST_REJECTS, CANDIDATES, CORPUS, GATE_SCORES, GATE_REJECTED, REGENERATE,
              SCENES)
}


# Every older schema version this project wrote, with what its files may lack: per table, the
# columns added since and the value such a column reads as (its default, named in COLUMN_DOCS).
OLDER_SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {
    "1": {
        # version 2 (763d021): the regeneration feedback
        CANDIDATES.name: {col.feedback: None},
        REGENERATE.name: {col.previous: None, col.feedback: None},
    },
}
# The gate's score columns of its first release (de82b7a). Every score column added since (the
# event alignment during version 1, its WordNet counts during version 2, ...) may be missing
# from a gate_scores file written before it, whatever its version: it reads as null, "not
# scored", like a candidate without a paraphrase. So a new nullable score column needs no
# version bump, and older robustclap releases still read the newer files.
FIRST_GATE_SCORES = (
    col.sbert_cos, col.bertscore_p, col.bertscore_r, col.bertscore_f1, col.content_recall,
    col.content_novelty, col.token_edit, col.structure_edit, col.number_diff, col.negation_diff,
    col.order_violations, col.role_swaps, col.reattachments, col.norm_identical,
    col.length_ratio, col.repeat_frac, col.english_share, col.n_sentences, col.list_like,
    col.meta_text, col.echo, col.rank_score,
)


def register(spec: TableSpec) -> TableSpec:
    """Add a table defined by a later stage; names must stay unique."""
    if spec.name in TABLES and TABLES[spec.name] != spec:
        raise ValueError(f"table {spec.name!r} is already defined differently")
    TABLES[spec.name] = spec
    return spec


def to_arrow(spec: TableSpec, rows: list[dict] | pa.Table | object) -> pa.Table:
    """Build an Arrow table with exactly the spec's columns, in order, with its types."""
    if isinstance(rows, pa.Table):
        table = rows
    elif isinstance(rows, list):
        table = pa.Table.from_pylist(rows) if rows else spec.schema.empty_table()
    else:  # a pandas DataFrame
        table = pa.Table.from_pandas(rows, preserve_index=False)
    missing = [c for c in spec.columns if c not in table.column_names]
    if missing:
        raise RobustclapError(f"table {spec.name!r} is missing columns {missing}")
    return table.select(spec.columns).cast(spec.schema)


def write_table(
    spec: TableSpec, rows: list[dict] | pa.Table | object, path: str | Path,
    extra: str | None = None,
) -> Path:
    """Write atomically (temporary file in the same folder, then rename).

    A reader, or a run killed half-way, never sees a partial file under `path`.
    `extra` is a free-form string stored in the metadata (e.g. a shard's content key).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = to_arrow(spec, rows)
    meta = {META_TABLE: spec.name.encode(), META_VERSION: SCHEMA_VERSION.encode()}
    given = (rows.schema.metadata if isinstance(rows, pa.Table) else None) or {}
    # a table upgraded when read keeps its record of which columns hold defaults
    meta.update({k: given[k] for k in (META_UPGRADED_FROM, META_DEFAULTED) if k in given})
    if extra is not None:
        meta[META_EXTRA] = extra.encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, default_mode(is_dir=False))  # mkstemp's 0600 would outlive the rename
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def file_metadata(path: str | Path) -> dict[bytes, bytes]:
    return pq.read_schema(path).metadata or {}


def _version_number(version: str) -> int | None:
    return int(version) if version.isdigit() else None


def defaults_for(spec: TableSpec, version: str, names: list[str]) -> dict[str, Any]:
    """The columns a file of `version` holding columns `names` lacks and may lack (what later
    versions added, and gate scores added after the file was written), with the value each
    reads as."""
    added: dict[str, Any] = {}
    for old in sorted(OLDER_SCHEMAS, key=int):
        if int(old) >= int(version):
            added.update(OLDER_SCHEMAS[old].get(spec.name, {}))
    if spec.name == GATE_SCORES.name:
        added.update({f.name: None for f in _GATE_SCORE_FIELDS
                      if f.name not in FIRST_GATE_SCORES})
    return {c: v for c, v in added.items() if c in spec.columns and c not in names}


def _checked(spec: TableSpec, path: str | Path) -> tuple[dict[bytes, bytes], dict[str, Any]]:
    """The file's metadata and the defaults it is read with; a clear error for any other
    table, a schema version this robustclap does not know, or a newer one."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise RobustclapError(f"{path}: not a readable Parquet file ({exc})") from exc
    meta = schema.metadata or {}
    name = meta.get(META_TABLE, b"").decode()
    version = meta.get(META_VERSION, b"").decode()
    if name != spec.name:
        raise RobustclapError(f"{path}: expected a {spec.name!r} table, found {name or 'none'!r}")
    number, current = _version_number(version), int(SCHEMA_VERSION)
    if number is not None and number > current:
        raise RobustclapError(
            f"{path}: written by a newer robustclap (schema version {version!r}); this "
            f"robustclap reads schema versions up to {SCHEMA_VERSION!r}: upgrade robustclap "
            "to read it")
    if version != SCHEMA_VERSION and version not in OLDER_SCHEMAS:
        raise RobustclapError(
            f"{path}: schema version {version!r}, this robustclap reads "
            f"{', '.join(repr(v) for v in (*sorted(OLDER_SCHEMAS, key=int), SCHEMA_VERSION))}")
    defaults = defaults_for(spec, version, schema.names)
    from robustclap.contracts.table_check import check_columns  # columns, not only the metadata

    present = TableSpec(spec.name, pa.schema([f for f in spec.schema if f.name not in defaults]),
                        spec.doc)
    check_columns(present, path)
    return meta, defaults


def read_defaults(spec: TableSpec, path: str | Path) -> dict[str, Any]:
    """The columns `read_table` fills in for this file (empty: it reads as it is), after the
    same checks; a file from a newer robustclap is refused here."""
    return _checked(spec, path)[1]


def check_file(spec: TableSpec, path: str | Path) -> dict[bytes, bytes]:
    """Refuse a file that is not this table or is of a schema version this robustclap cannot
    read (an older version it wrote is fine: readers upgrade it)."""
    return _checked(spec, path)[0]


def file_version(path: str | Path) -> str:
    """The schema version a table file was written with ('' when it carries none)."""
    return file_metadata(path).get(META_VERSION, b"").decode()


def is_current(path: str | Path) -> bool:
    return file_version(path) == SCHEMA_VERSION


def _upgraded(spec: TableSpec, table: pa.Table, want: list[str], defaults: dict[str, Any],
              version: str) -> pa.Table:
    """`table` with the defaulted columns added, in `want` order and the spec's types."""
    target = pa.schema([spec.schema.field(c) for c in want])
    filled = [c for c in want if c in defaults]
    for c in filled:
        field = spec.schema.field(c)
        table = table.append_column(field, pa.array([defaults[c]] * table.num_rows, field.type))
    table = table.select(want).cast(target)
    if version == SCHEMA_VERSION and not filled:
        return table
    return table.replace_schema_metadata({META_UPGRADED_FROM: version.encode(),
                                          META_DEFAULTED: ",".join(filled).encode()})


def _read_columns(spec: TableSpec, want: list[str], defaults: dict[str, Any]) -> list[str]:
    """The columns to read from the file: those wanted that it holds (at least one, so the
    table knows its row count when every wanted column is a default)."""
    return [c for c in want if c not in defaults] or \
        [next(c for c in spec.columns if c not in defaults)]


def read_table(spec: TableSpec, path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """The table as the current schema has it: an older file is upgraded in memory."""
    meta, defaults = _checked(spec, path)
    want = list(columns or spec.columns)
    table = pq.read_table(path, columns=_read_columns(spec, want, defaults))
    return _upgraded(spec, table, want, defaults, meta.get(META_VERSION, b"").decode())


def read_batches(spec: TableSpec, path: str | Path, batch_rows: int,
                 columns: list[str] | None = None) -> Iterator[pa.Table]:
    """`read_table` a batch at a time (bounded memory), upgraded the same way."""
    meta, defaults = _checked(spec, path)
    want = list(columns or spec.columns)
    version = meta.get(META_VERSION, b"").decode()
    for batch in pq.ParquetFile(path).iter_batches(
            batch_rows, columns=_read_columns(spec, want, defaults), use_threads=False):
        yield _upgraded(spec, pa.Table.from_batches([batch]), want, defaults, version)


def read_dir(spec: TableSpec, folder: str | Path) -> pa.Table:
    """Read every shard of one table in a folder (sorted, so order is stable); when some were
    upgraded, the result records the oldest version read and every defaulted column."""
    files = sorted(Path(folder).glob("*.parquet"))
    if not files:
        return spec.schema.empty_table()
    tables = [read_table(spec, f) for f in files]
    metas = [t.schema.metadata for t in tables if t.schema.metadata]
    joined = pa.concat_tables([t.replace_schema_metadata(None) for t in tables])
    if not metas:
        return joined
    oldest = min((m[META_UPGRADED_FROM] for m in metas), key=lambda v: int(v.decode()))
    filled = {c for m in metas for c in m[META_DEFAULTED].decode().split(",") if c}
    return joined.replace_schema_metadata({
        META_UPGRADED_FROM: oldest,
        META_DEFAULTED: ",".join(c for c in spec.columns if c in filled).encode()})


# What each column means, for dataset cards and the dashboard (one line each, no paths).
COLUMN_DOCS: dict[str, str] = {
    col.caption_id: "stable id of the original caption (hash of source, clip id and text)",
    col.clip_id: "id of the audio clip the caption describes (AudioCaps youtube_id, Clotho "
                 "file name without extension)",
    col.split: "clip split the caption belongs to (train / val / test)",
    col.caption: "the original human-written caption",
    col.source: "input dataset the caption came from (audiocaps, clotho or the file's name)",
    col.source_file: "input file the caption was read from",
    col.source_row: "row number of the caption in its input file",
    col.raw: "the input row as read, when it could not be used",
    col.reason: "why the row was not used (gate rejects: the first failed gate, or 'surplus' "
                "for a passing candidate beyond the per-level quota)",
    col.level: "paraphrase level: 1 restructures and keeps the words, 2 also changes them",
    col.candidate: "index of the candidate among those generated for (caption, level)",
    col.input_text: "text the LLM paraphrased when it was not the caption (level 2 from "
                    "level 1)",
    col.paraphrase: "the paraphrase written by the LLM (null when generation failed)",
    col.status: "generation status: ok or failed",
    col.fail_reason: "why generation failed after the last attempt (null when ok)",
    col.raw_reply: "the LLM's raw reply when it could not be parsed",
    col.model: "LLM that wrote the paraphrase",
    col.model_revision: "revision of that LLM",
    col.prompt_version: "hash of the prompt template file used",
    col.sampling: "sampling parameters of the request (JSON)",
    col.seed: "sampling seed of the final attempt",
    col.attempt: "attempt number that produced this row (1 = first ask)",
    col.finish_reason: "the LLM's finish reason (stop, length, ...)",
    col.prompt_tokens: "prompt tokens of the final attempt",
    col.completion_tokens: "completion tokens of the final attempt",
    col.latency_s: "seconds the final request took",
    col.from_cache: "whether the reply came from the response cache",
    col.run_id: "generation run that wrote the row",
    col.rank: "rank among the accepted paraphrases of (caption, level); 0 = best",
    col.gate_version: "hash of the quality-gate configuration that judged the row",
    col.sbert_cos: "SBERT cosine similarity of caption and paraphrase",
    col.bertscore_p: "BERTScore precision",
    col.bertscore_r: "BERTScore recall",
    col.bertscore_f1: "BERTScore F1",
    col.content_recall: "share of the caption's content words kept",
    col.content_novelty: "share of the paraphrase's content words that are new",
    col.token_edit: "token edit distance, normalised",
    col.structure_edit: "edit distance of the part-of-speech sequence, normalised",
    col.number_diff: "numbers that differ between caption and paraphrase",
    col.negation_diff: "negations that differ",
    col.order_violations: "sound events whose order was reversed",
    col.role_swaps: "subject/object roles swapped",
    col.reattachments: "modifiers attached to a different word",
    col.norm_identical: "paraphrase equals the caption after normalisation",
    col.length_ratio: "paraphrase words / caption words",
    col.repeat_frac: "share of repeated word n-grams",
    col.english_share: "share of English words",
    col.n_sentences: "sentences in the paraphrase",
    col.list_like: "paraphrase looks like a list",
    col.meta_text: "paraphrase talks about the task instead of the sound",
    col.echo: "paraphrase echoes the prompt",
    col.align_missing: "caption content words no paraphrase word matches (event alignment)",
    col.align_added: "paraphrase content words no caption word matches (repeats included)",
    col.align_synonyms: "caption words matched only through a synonym",
    col.align_synonym_sim: "word cosine of the weakest synonym match (1 when none)",
    col.align_roles: "event changes: source, object, number, attribute or count",
    col.align_wordnet: "caption words matched through a WordNet synonym or related form",
    col.align_general: "caption words matched by a more general word (WordNet hypernym)",
    col.align_specific: "caption words matched by a more specific word (WordNet hyponym)",
    col.align_units: "content words of the caption that the alignment matches",
    col.cover_caption_min: "weakest caption word's best match in the paraphrase (0-1)",
    col.cover_caption_mean: "mean of the caption words' best matches in the paraphrase",
    col.cover_candidate_min: "weakest paraphrase word's best match in the caption (0-1)",
    col.cover_candidate_mean: "mean of the paraphrase words' best matches in the caption",
    col.extra_sentences: "paraphrase sentences beyond the caption's",
    col.definition: "paraphrase is a definition ('An owl is a creature ...')",
    col.fragment: "paraphrase is cut off mid-sentence",
    col.same_content: "same content lemmas in the same order: only inflections changed",
    col.alignment: "the event alignment as JSON: missing, added, synonyms, role changes (the "
                   "align_* to same_content columns are null in score tables written before "
                   "the alignment existed)",
    col.meaning_p: "learned P(meaning kept): the listener would accept it (null: model off)",
    col.wording_p: "learned P(wording right for the level) (null: model off)",
    col.decision_note: "what pulled the learned probabilities under their thresholds",
    col.rank_score: "score candidates are ranked by",
    col.passed: "whether the candidate passed every gate",
    col.failed_gates: "every gate the candidate failed",
    col.previous: "the best rejected rewrite of an earlier round, shown to the model again "
                  "(null in tables written before schema 2)",
    col.feedback: "what the gate found in that rewrite (dropped or added words, failed gates), "
                  "shown to the model in a regeneration round (null in tables written before "
                  "schema 2)",
    col.reworded: "the scene described in held-out words no training caption or prompt uses",
    col.duration_s: "length of the composed scene in seconds",
    col.events: "the scene's events as JSON: class, source clip, count, onsets, gain",
    col.relations: "relation between consecutive events: sequence or overlap",
}
