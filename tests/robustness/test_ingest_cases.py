"""Issue 16, cases 1 and 6: caption files that used to lose or silently change rows."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.pipeline.ingest import ingest


def _books_close(res) -> None:
    """Every caption cell is a caption or a reject: nothing disappears."""
    assert len(res.captions) + len(res.rejects) == res.counts["caption_cells"]


def test_case1_unclosed_quote_loses_no_rows(tmp_path):
    rows = [f"c{i},A dog barks number {i}" for i in range(11)]
    rows[2] = 'c2,"A dog barks and the quote never closes'
    f = tmp_path / "caps.csv"
    f.write_text("clip_id,caption\n" + "\n".join(rows) + "\n")
    res = ingest(f)
    assert res.counts["input_rows"] == 11
    assert len(res.captions) == 10 and len(res.rejects) == 1
    assert res.rejects.reason[0].startswith("malformed_row (line 4")
    assert "never closes" in res.rejects.raw[0]
    assert "A dog barks number 10" in list(res.captions.caption)
    _books_close(res)


def test_case6_jsonl_line_separators_inside_a_record_stay_one_record(tmp_path):
    recs = [{"clip_id": "a", "caption": "wind\u2028then rain"},
            {"clip_id": "b", "caption": "a bell\u0085rings"}]
    f = tmp_path / "caps.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n")
    res = ingest(f)
    assert res.rejects.empty, res.rejects
    assert list(res.captions.caption) == ["wind then rain", "a bell rings"]


def test_case6_a_huge_caption_is_one_too_long_reject(tmp_path):
    f = tmp_path / "caps.csv"
    f.write_text("clip_id,caption\na," + "x" * 140_000 + "\nb,A dog barks\n")
    res = ingest(f)
    assert list(res.captions.caption) == ["A dog barks"]
    assert res.rejects.reason[0].startswith("too_long")
    _books_close(res)


@pytest.mark.parametrize("n", [0, -1])
def test_case6_max_clips_below_one_is_refused(tmp_path, n, cli):
    f = tmp_path / "caps.csv"
    f.write_text("clip_id,caption\na,A dog barks\n")
    with pytest.raises(RobustclapError, match="max_clips must be at least 1"):
        ingest(f, max_clips=n)
    code, out = cli(["ingest", "-i", f, "--out", tmp_path / "o", "--max-clips", n])
    assert code == 2 and "max_clips must be at least 1" in out and "Traceback" not in out


def test_case6_split_values_are_checked(tmp_path):
    f = tmp_path / "caps.csv"
    f.write_text("clip_id,split,caption\na,nan,Wind\nb,1.0,Rain\nc,3,Snow\nd,Validation,Hail\n"
                 "e,holdout_2,Sleet\nf,,Fog\n")
    res = ingest(f)
    assert dict(zip(res.captions.caption, res.captions.split, strict=True)) == {
        "Hail": "val", "Sleet": "holdout_2", "Fog": "unknown"}
    assert sorted(r.split(" (")[0] for r in res.rejects.reason) == ["bad_split"] * 3
    _books_close(res)
    with pytest.raises(RobustclapError, match="split '1.0'"):
        ingest(f, split="1.0")


def test_case6_parquet_numeric_split_is_rejected(tmp_path):
    pq.write_table(pa.table({"clip_id": ["a", "b"], "caption": ["Wind", "Rain"],
                             "split": [1.0, float("nan")]}), tmp_path / "c.parquet")
    res = ingest(tmp_path / "c.parquet", split="test")
    assert list(res.captions.caption) == ["Rain"] and list(res.captions.split) == ["test"]
    assert res.rejects.reason[0].startswith("bad_split")


def test_case6_invisible_characters_do_not_defeat_duplicates(tmp_path):
    f = tmp_path / "caps.csv"
    f.write_text("clip_id,caption\na,A dog barks\na,\ufeffA dog\u200b barks\n"
                 "b,evil \u202egnp.exe\n", encoding="utf-8")
    res = ingest(f)
    assert list(res.captions.caption) == ["A dog barks"]
    assert sorted(res.rejects.reason) == ["control_characters (bidi override)",
                                          "duplicate_caption (same clip, same text)"]


def test_case6_duplicate_header_names_are_refused(tmp_path):
    f = tmp_path / "caps.csv"
    f.write_text("clip_id,caption,caption\na,first,second\n")
    with pytest.raises(RobustclapError, match=r"duplicate column name\(s\) \['caption'\]"):
        ingest(f)
    pq.write_table(pa.Table.from_arrays([pa.array(["a"]), pa.array(["x"]), pa.array(["y"])],
                                        names=["clip_id", "caption", "caption"]),
                   tmp_path / "d.parquet")
    with pytest.raises(RobustclapError, match="duplicate column name"):
        ingest(tmp_path / "d.parquet")


def test_case7_ingest_out_pointing_at_a_file_is_a_clear_error(tmp_path, cli):
    f = tmp_path / "caps.csv"
    f.write_text("clip_id,caption\na,A dog barks\n")
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, out = cli(["ingest", "-i", f, "--out", target])
    assert code == 2 and "not a folder" in out and "Traceback" not in out


def test_max_clips_is_counted_not_silent(tmp_path):
    f = tmp_path / "caps.csv"
    f.write_text("clip_id,caption\na,x y\nb,y z\nc,z w\n")
    res = ingest(f, max_clips=1)
    assert res.counts["skipped_by_max_clips"] == 2 and len(res.captions) == 1
    assert isinstance(pd.DataFrame(res.captions), pd.DataFrame)
