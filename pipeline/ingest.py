"""Caption files → one captions table + a rejects table (nothing is dropped silently).

Readers understand AudioCaps CSV, Clotho CSV and generic CSV / JSONL / Parquet with a column
mapping. Every input row ends either in `captions` or in `rejects` with a reason; a file that
cannot be read at all stops with one clear `RobustclapError`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ftfy
import pandas as pd

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CAPTIONS, INGEST_REJECTS, col
from robustclap.contracts.stage import StageStats, is_number

FORMATS = ("auto", "audiocaps", "clotho", "csv", "jsonl", "parquet")
AUDIOCAPS_COLUMNS = ("audiocap_id", "youtube_id", "start_time", "caption")
CLOTHO_COLUMNS = tuple(["file_name"] + [f"caption_{i}" for i in range(1, 6)])
SPLIT_WORDS = {
    "train": "train", "training": "train", "development": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "evaluation": "test", "eval": "test",
}
NULL_LIKE = {"nan", "none", "null", "n/a", "na"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Bidi overrides/isolates can make a caption read differently from what it holds: refused.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Invisible characters (BOM, zero-width space/joiners, word joiner, soft hyphen) carry no
# meaning in a caption but make two equal captions differ: removed before duplicate detection.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")
_SPLIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_LINE_END = re.compile(r"\r\n|\n|\r")


@dataclass
class ColumnMapping:
    """Which input columns hold the caption, the clip id, and optionally split / row id.

    A column named `split` is used when no split column is given.
    """

    caption: str = "caption"
    clip_id: str = "clip_id"
    split: str | None = None
    row_id: str | None = None


@dataclass
class IngestLimits:
    max_chars: int = 1000
    max_words: int = 200


@dataclass
class IngestResult:
    captions: pd.DataFrame
    rejects: pd.DataFrame
    fmt: str
    counts: dict[str, Any] = field(default_factory=dict)

    def stats(self, wall_s: float | None = None) -> StageStats:
        """The ingest as StageStats: every caption cell became a caption or a reject row."""
        kept = int(self.counts.get("captions", len(self.captions)))
        rejected = int(self.counts.get("rejected", len(self.rejects)))
        core = ("captions", "rejected", "caption_cells")
        return StageStats(
            "ingest", "complete", rows_in=kept + rejected, rows_out=kept, rejected=rejected,
            wall_s=wall_s,
            counts={k: v for k, v in self.counts.items() if k not in core and is_number(v)},
            extra={"format": self.fmt, **{k: v for k, v in self.counts.items()
                                          if k not in core and not is_number(v)}})


def caption_id(source: str, clip_id: str, caption: str, row_id: str | None = None) -> str:
    """Content-derived id: the same caption of the same clip gets the same id in every run.

    A native row id (AudioCaps' audiocap_id, Clotho's file#k) is part of the key, so two
    annotators who wrote the same words for one clip stay two captions, as in the dataset.
    """
    key = f"{source}\x1f{clip_id}\x1f{row_id or ''}\x1f{caption}".encode()
    return hashlib.sha256(key).hexdigest()[:20]


def split_from_name(path: Path) -> str:
    """AudioCaps/Clotho files are named after their split (train.csv, development.csv, …)."""
    for token in re.split(r"[^a-z]+", path.stem.lower()):
        if token in SPLIT_WORDS:
            return SPLIT_WORDS[token]
    return "unknown"


def clean_caption(value: Any, limits: IngestLimits) -> tuple[str | None, str | None]:
    """Return (normalised caption, None) or (None, reject reason)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "missing"
    if not isinstance(value, str):
        return None, f"not_text ({type(value).__name__})"
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in value) or "\ufffd" in value:
        return None, "broken_encoding (invalid UTF-8)"
    if _CONTROL.search(value):
        return None, "control_characters"
    if _BIDI.search(value):
        return None, "control_characters (bidi override)"
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", _INVISIBLE.sub("", value))).strip()
    if not text:
        return None, "empty"
    if text.lower() in NULL_LIKE:
        return None, "null_like"
    if ftfy.is_bad(text):
        return None, "broken_encoding (mojibake)"
    if not any(ch.isalpha() for ch in text):
        return None, "no_letters"
    if len(text) > limits.max_chars or len(text.split()) > limits.max_words:
        return None, f"too_long (> {limits.max_chars} chars or {limits.max_words} words)"
    return text, None


def _read_text(path: Path) -> str:
    """Decode UTF-8 keeping bad bytes as surrogates: bad rows (not files) get rejected."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RobustclapError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if b"\x00" in raw[:4096]:
        raise RobustclapError(f"{path}: looks binary, not a text caption file")
    return raw.decode("utf-8-sig", errors="surrogateescape")


@dataclass
class Rows:
    """Raw input records (plain dicts: pandas' Arrow strings cannot hold undecodable bytes)."""

    columns: list[str]
    records: list[dict[str, Any]]


def _physical_lines(text: str) -> list[str]:
    """Lines split on CR/LF only: U+2028, U+0085 and friends are characters inside a record."""
    lines = _LINE_END.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _parse_line(line: str) -> list[str]:
    """One CSV record from one physical line; a quote left open raises csv.Error.

    Every physical line is one input row: a caption never spans lines, so a quote opened and
    not closed cannot swallow the rows after it (it used to merge them into one caption).
    """
    limit = csv.field_size_limit()
    if len(line) >= limit:  # the csv module refuses long fields; the caption gets too_long
        csv.field_size_limit(len(line) + 1)
    return next(csv.reader([line], strict=True))


def _read_csv(path: Path) -> Rows:
    """CSV with the stdlib reader (keeps undecodable bytes); a malformed line becomes a reject."""
    lines = _physical_lines(_read_text(path))
    if not lines:
        raise RobustclapError(f"{path}: empty file")
    try:
        header = [h.strip() for h in _parse_line(lines[0])]
    except csv.Error as exc:
        raise RobustclapError(f"{path}: header line is not valid CSV ({exc})") from exc
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise RobustclapError(f"{path}: duplicate column name(s) {dupes} in the header")
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            row = _parse_line(line)
        except csv.Error as exc:
            records.append({"__invalid__": f"malformed_row (line {lineno}: {exc})",
                            "__raw__": line})
            continue
        if len(row) != len(header):
            records.append({"__invalid__": f"malformed_row (line {lineno}: {len(row)} fields, "
                                           f"expected {len(header)})", "__raw__": line})
        else:
            records.append(dict(zip(header, row, strict=True)))
    return Rows(header, records)


def _read_jsonl(path: Path) -> Rows:
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(_physical_lines(_read_text(path)), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = {"__invalid__": f"invalid_json (line {lineno})", "__raw__": line[:500]}
        if not isinstance(obj, dict):
            obj = {"__invalid__": f"not_an_object (line {lineno})", "__raw__": line[:500]}
        records.append(obj)
    if not records:
        raise RobustclapError(f"{path}: no JSON lines found")
    if all("__invalid__" in r for r in records):
        raise RobustclapError(f"{path}: no line is a JSON object (JSONL holds one object per "
                              f"line; first problem: {records[0]['__invalid__']})")
    columns = list(dict.fromkeys(k for r in records for k in r if not k.startswith("__")))
    return Rows(columns, records)


def _read_parquet(path: Path) -> Rows:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise RobustclapError(f"{path}: duplicate column name(s) {dupes}")
        table = pq.ParquetFile(path).read()
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise RobustclapError(f"{path}: not a readable Parquet file ({exc})") from exc
    return Rows(list(table.column_names), table.to_pylist())


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".tsv", ".txt"):
        header = _read_text(path).split("\n", 1)[0]
        names = {h.strip().strip('"') for h in header.split(",")}
        if set(AUDIOCAPS_COLUMNS) <= names:
            return "audiocaps"
        if set(CLOTHO_COLUMNS) <= names:
            return "clotho"
        return "csv"
    raise RobustclapError(
        f"{path}: cannot tell the format from the extension {suffix!r}; pass --format "
        f"({', '.join(FORMATS[1:])})"
    )


def _require(df: Rows, columns: tuple[str, ...] | list[str], path: Path, fmt: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise RobustclapError(
            f"{path}: missing column(s) {missing} for format {fmt!r}; found {df.columns}"
        )


def _long_rows(df: Rows, fmt: str, path: Path, mapping: ColumnMapping) -> list[dict]:
    """One dict per caption cell with clip id, split hint, row id and the raw value."""
    rows: list[dict] = []
    recs = df.records

    def invalid(i: int, r: dict) -> bool:
        reason = r.get("__invalid__")
        if isinstance(reason, str):
            rows.append({"row": i, "clip": None, "rid": None, "value": r.get("__raw__"),
                         "split": None, "invalid": reason})
            return True
        return False

    if fmt == "audiocaps":
        _require(df, AUDIOCAPS_COLUMNS, path, fmt)
        for i, r in enumerate(recs):
            if not invalid(i, r):
                rows.append({"row": i, "clip": r["youtube_id"], "rid": r["audiocap_id"],
                             "value": r["caption"], "split": None, "invalid": None})
    elif fmt == "clotho":
        _require(df, CLOTHO_COLUMNS, path, fmt)
        for i, r in enumerate(recs):
            if invalid(i, r):
                continue
            clip = Path(str(r["file_name"])).stem if r["file_name"] else r["file_name"]
            for k in range(1, 6):
                rows.append({"row": i, "clip": clip, "rid": f"{r['file_name']}#{k}",
                             "value": r[f"caption_{k}"], "split": None, "invalid": None})
    else:
        wanted = [mapping.caption, mapping.clip_id]
        _require(df, wanted + [c for c in (mapping.split, mapping.row_id) if c], path, fmt)
        split_col = mapping.split or ("split" if "split" in df.columns else None)
        for i, r in enumerate(recs):
            if invalid(i, r):
                continue
            rows.append({
                "row": i, "clip": r.get(mapping.clip_id),
                "rid": r.get(mapping.row_id) if mapping.row_id else None,
                "value": r.get(mapping.caption),
                "split": r.get(split_col) if split_col else None, "invalid": None,
            })
    return rows


def _printable(value: Any) -> str | None:
    """The raw cell as storable text: undecodable bytes become \\xNN escapes."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")[:2000]


def normalise_split(value: Any) -> tuple[str | None, str | None]:
    """(split name, None), (None, None) when absent, or (None, reason) for a value that is not
    a split name (`nan`, `1.0`, `3` used to become splits of their own)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, None
    if not isinstance(value, str):
        return None, f"bad_split ({_printable(value)})"
    text = value.strip()
    if not text:
        return None, None
    if text.lower() in SPLIT_WORDS:
        return SPLIT_WORDS[text.lower()], None
    if text.lower() in NULL_LIKE or not _SPLIT_NAME.match(text):
        return None, f"bad_split ({_printable(text)[:40]})"
    return text, None


def _as_clip_id(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def output_dir(out: str | Path) -> Path:
    """The folder tables are written to: refused at once when it is an existing file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RobustclapError(f"--out {out}: exists and is not a folder")
    return out


def ingest(
    path: str | Path,
    fmt: str = "auto",
    mapping: ColumnMapping | None = None,
    split: str | None = None,
    source: str | None = None,
    limits: IngestLimits | None = None,
    max_clips: int | None = None,
) -> IngestResult:
    """Read one caption file into the captions and rejects tables (as DataFrames)."""
    path = Path(path)
    if not path.is_file():
        raise RobustclapError(f"input file not found: {path}")
    if fmt not in FORMATS:
        raise RobustclapError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if max_clips is not None and (isinstance(max_clips, bool) or max_clips < 1):
        raise RobustclapError(f"max_clips must be at least 1 (got {max_clips}); leave it unset "
                              "to keep every clip")
    if split is not None:
        given = split
        split, bad = normalise_split(given)
        if bad or split is None:
            raise RobustclapError(f"split {given!r}: {bad or 'empty'}; use train, val, test "
                                  "or a name of letters, digits, _ and -")
    fmt = detect_format(path) if fmt == "auto" else fmt
    mapping = mapping or ColumnMapping()
    limits = limits or IngestLimits()
    reader = {"jsonl": _read_jsonl, "parquet": _read_parquet}.get(fmt, _read_csv)
    df = reader(path)
    source = source or (fmt if fmt in ("audiocaps", "clotho") else path.stem)
    default_split = split or split_from_name(path)
    rows = _long_rows(df, fmt, path, mapping)

    skipped = 0
    if max_clips is not None:  # asked for: counted, not silent; malformed rows still reported
        keep: set[Any] = set()
        for r in rows:
            if r["invalid"] or len(keep) >= max_clips and r["clip"] not in keep:
                continue
            keep.add(r["clip"])
        before = len(rows)
        rows = [r for r in rows if r["invalid"] or r["clip"] in keep]
        skipped = before - len(rows)

    captions: list[dict] = []
    rejects: list[dict] = []
    seen_ids: set[str] = set()
    seen_caption_ids: set[str] = set()
    base = {col.source: source, col.source_file: str(path)}
    for r in rows:
        clip = _as_clip_id(r["clip"])
        raw = _printable(r["value"])

        def reject(reason: str, r: dict = r, clip: str | None = clip, raw: str | None = raw):
            rejects.append({**base, col.source_row: r["row"], col.clip_id: clip,
                            col.raw: raw, col.reason: reason})

        if r["invalid"]:
            reject(r["invalid"])
            continue
        if clip is None:
            reject("missing_clip_id")
            continue
        row_split, bad_split = normalise_split(r["split"])
        if bad_split:
            reject(bad_split)
            continue
        text, reason = clean_caption(r["value"], limits)
        if reason:
            reject(reason)
            continue
        rid = _as_clip_id(r["rid"])
        if rid is not None:
            if rid in seen_ids:
                reject(f"duplicate_id ({rid})")
                continue
            seen_ids.add(rid)
        cid = caption_id(source, clip, text, rid)
        if cid in seen_caption_ids:
            reject("duplicate_caption (same clip, same text)")
            continue
        seen_caption_ids.add(cid)
        row_split = row_split or default_split
        captions.append({col.caption_id: cid, col.clip_id: clip, col.split: row_split,
                         col.caption: text, **base, col.source_row: r["row"]})

    cap_df = pd.DataFrame(captions, columns=CAPTIONS.columns)
    rej_df = pd.DataFrame(rejects, columns=INGEST_REJECTS.columns)
    counts = {
        "input_rows": len(df.records),
        "caption_cells": len(rows),
        "skipped_by_max_clips": skipped,
        "captions": len(cap_df),
        "clips": int(cap_df[col.clip_id].nunique()),
        "rejected": len(rej_df),
        "reject_reasons": dict(Counter(r.split(" (")[0] for r in rej_df[col.reason])),
    }
    return IngestResult(cap_df, rej_df, fmt, counts)
