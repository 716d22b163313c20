"""Issue 16: a bad-input corpus run through the caption reader as a user runs it
(`robustclap ingest`). Every file ends either in one clear message (exit 2, no traceback) or in
tables whose rows close the books: rows in = captions + rejects. The files are generated here.
(Bad candidate shards: test_candidate_shards.py; bad configs: test_config_checks.py.)"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

AC = "audiocap_id,youtube_id,start_time,caption\n"
CL = "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
GOOD = "a,A dog barks\nb,Rain falls on a roof\n"


def _parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


# name: (file name, content, extra CLI args, expected)
# expected: ("error", text in the message) or ("rows", rows in, captions)
CASES: dict[str, tuple[str, bytes | str, list[str], tuple]] = {
    "empty file": ("c.csv", "", [], ("error", "empty file")),
    "header only": ("c.csv", "clip_id,caption\n", [], ("rows", 0, 0)),
    "binary": ("c.csv", b"\x00\x01\x02\x03binary", [], ("error", "looks binary")),
    "utf-16 file": ("c.csv", "clip_id,caption\na,Dog\n".encode("utf-16"), [],
                    ("error", "looks binary")),
    "unclosed quote mid-file": ("c.csv", 'clip_id,caption\na,"open\nb,Two\nc,Three\n', [],
                                ("rows", 3, 2)),
    "unclosed quote on last line": ("c.csv", 'clip_id,caption\na,One\nb,"open\n', [],
                                    ("rows", 2, 1)),
    "stray text after a closing quote": ("c.csv", 'clip_id,caption\na,"One" two\nb,Two\n', [],
                                         ("rows", 2, 1)),
    "too many fields": ("c.csv", "clip_id,caption\na,One,extra\nb,Two\n", [], ("rows", 2, 1)),
    "too few fields": ("c.csv", "clip_id,caption\na\nb,Two\n", [], ("rows", 2, 1)),
    "BOM before the header": ("c.csv", "\ufeffclip_id,caption\n" + GOOD, [], ("rows", 2, 2)),
    "CRLF line ends": ("c.csv", "clip_id,caption\r\na,One\r\nb,Two\r\n", [], ("rows", 2, 2)),
    "CR-only line ends": ("c.csv", "clip_id,caption\ra,One\rb,Two\r", [], ("rows", 2, 2)),
    "blank lines between rows": ("c.csv", "clip_id,caption\n\na,One\n\n\nb,Two\n", [],
                                 ("rows", 2, 2)),
    "invalid UTF-8 in one caption": ("c.csv", b"clip_id,caption\na,Caf\xe9 noise\nb,Two\n", [],
                                     ("rows", 2, 1)),
    "mojibake": ("c.csv", "clip_id,caption\na,CafÃ© noises\nb,Two\n", [], ("rows", 2, 1)),
    "control character": ("c.csv", "clip_id,caption\na,A\x07bell\nb,Two\n", [], ("rows", 2, 1)),
    "bidi override": ("c.csv", "clip_id,caption\na,abc\u202edef\nb,Two\n", [], ("rows", 2, 1)),
    "zero-width duplicate": ("c.csv", "clip_id,caption\na,Dog barks\na,Dog\u200b barks\n", [],
                             ("rows", 2, 1)),
    "caption of 200,000 chars": ("c.csv", "clip_id,caption\na," + "x" * 200_000 + "\nb,Two\n",
                                 [], ("rows", 2, 1)),
    "whitespace caption": ("c.csv", "clip_id,caption\na,   \nb,Two\n", [], ("rows", 2, 1)),
    "null-like caption": ("c.csv", "clip_id,caption\na,NULL\nb,N/A\nc,Three\n", [],
                          ("rows", 3, 1)),
    "digits only": ("c.csv", "clip_id,caption\na,12345\nb,Two\n", [], ("rows", 2, 1)),
    "missing clip id": ("c.csv", "clip_id,caption\n,One\nb,Two\n", [], ("rows", 2, 1)),
    "no caption column": ("c.csv", "clip_id,text\na,One\n", [], ("error", "missing column")),
    "duplicate header": ("c.csv", "clip_id,caption,caption\na,x,y\n", [],
                         ("error", "duplicate column name")),
    "spaces around header names": ("c.csv", " clip_id , caption \n" + GOOD, [], ("rows", 2, 2)),
    "tab separated": ("c.tsv", "clip_id\tcaption\na\tOne\n", [], ("error", "missing column")),
    "semicolon separated": ("c.csv", "clip_id;caption\na;One\n", [], ("error", "missing column")),
    "bad split values": ("c.csv", "clip_id,split,caption\na,nan,One\nb,1.0,Two\nc,test,Three\n",
                         [], ("rows", 3, 1)),
    "--split not a name": ("c.csv", "clip_id,caption\n" + GOOD, ["--split", "3"],
                           ("error", "split '3'")),
    "--max-clips 0": ("c.csv", "clip_id,caption\n" + GOOD, ["--max-clips", "0"],
                      ("error", "max_clips must be at least 1")),
    "unknown extension": ("c.xlsx", "whatever", [], ("error", "--format")),
    "unknown --format": ("c.csv", "clip_id,caption\n" + GOOD, ["--format", "xml"],
                         ("error", "unknown format")),
    "audiocaps duplicate id and no youtube id": (
        "train.csv", AC + "1,y1,0,A dog barks\n1,y2,0,A cat meows\n2,,0,Wind\n3,y3,0,Rain\n",
        [], ("rows", 4, 2)),
    "clotho with empty cells": ("development.csv",
                                CL + "a.wav,One,,Three,Four,Five\nb.wav,1,2,3,4,5\n", [],
                                ("rows", 2, 4)),
    "clotho without caption_5": ("development.csv", CL.replace(",caption_5", "")
                                 + "a.wav,One,Two,Three,Four\n", [], ("error", "missing column")),
    "same clip, same text twice": ("c.csv", "clip_id,caption\na,Dog\na,Dog\n", [],
                                   ("rows", 2, 1)),
    "jsonl mixed bad lines": ("c.jsonl", '{"clip_id": "a", "caption": "One"}\nnot json\n[1, 2]\n'
                              '{"clip_id": "b", "caption": {"nested": 1}}\n'
                              '{"clip_id": "c", "caption": 7}\n\n', [], ("rows", 5, 1)),
    "jsonl with U+2028 and U+0085 inside": (
        "c.jsonl", '{"clip_id": "a", "caption": "One\u2028two"}\n'
        '{"clip_id": "b", "caption": "Three\u0085four"}\n', [], ("rows", 2, 2)),
    "jsonl only blank lines": ("c.jsonl", "\n\n\n", [], ("error", "no JSON lines")),
    "jsonl with BOM": ("c.jsonl", '\ufeff{"clip_id": "a", "caption": "One"}\n', [],
                       ("rows", 1, 1)),
    "json array file": ("c.json", '[{"clip_id": "a", "caption": "One"}]\n', [],
                        ("error", "no line is a JSON object")),
    "not parquet": ("c.parquet", "not parquet", [], ("error", "not a readable Parquet")),
    "parquet int and binary captions": ("c.parquet", _parquet(pa.table({
        "clip_id": ["a", "b", "c"], "caption": pa.array([b"bytes", b"x", b"Three"])})), [],
        ("rows", 3, 0)),
    "parquet list caption": ("c.parquet", _parquet(pa.table({
        "clip_id": ["a", "b"], "caption": [["One"], ["Two"]]})), [], ("rows", 2, 0)),
    "parquet null clip and caption": ("c.parquet", _parquet(pa.table({
        "clip_id": ["a", None, "c"], "caption": ["One", "Two", None]})), [], ("rows", 3, 1)),
    "parquet without caption column": ("c.parquet", _parquet(pa.table({"clip_id": ["a"]})), [],
                                       ("error", "missing column")),
    "parquet duplicate columns": ("c.parquet", _parquet(pa.Table.from_arrays(
        [pa.array(["a"]), pa.array(["x"]), pa.array(["y"])], names=["clip_id", "caption",
                                                                    "caption"])), [],
        ("error", "duplicate column name")),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_bad_caption_file_is_a_message_or_closed_books(tmp_path, cli, kind):
    name, content, args, expected = CASES[kind]
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    out_dir = tmp_path / "out"
    code, out = cli(["ingest", "-i", path, "--out", out_dir, *args])
    assert "Traceback" not in out, out
    if expected[0] == "error":
        assert code == 2, out
        assert expected[1] in out, out
        return
    assert code == 0, out
    counts = json.loads(out[out.index("{"):])
    captions = pq.read_table(out_dir / "captions.parquet").num_rows
    rejects = pq.read_table(out_dir / "ingest_rejects.parquet").num_rows
    assert (counts["input_rows"], captions) == expected[1:], (counts, rejects)
    assert counts["caption_cells"] == captions + rejects  # the books close
    if not name.startswith("development"):  # clotho: five caption cells a row
        assert counts["caption_cells"] == counts["input_rows"]


def test_the_corpus_has_at_least_40_kinds():
    assert len(CASES) >= 40
