import json

import pandas as pd
import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.pipeline.ingest import ColumnMapping, caption_id, ingest


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_audiocaps_csv(tmp_path):
    f = write(tmp_path / "train.csv", "audiocap_id,youtube_id,start_time,caption\n"
              "1,abc,30,A dog barks\n2,abd,10,  Rain   falls \n")
    res = ingest(f)
    assert res.fmt == "audiocaps"
    assert list(res.captions.caption) == ["A dog barks", "Rain falls"]
    assert set(res.captions.split) == {"train"}
    assert list(res.captions.clip_id) == ["abc", "abd"]
    assert res.rejects.empty


def test_clotho_csv_is_long_format_and_split_mapped(tmp_path):
    cols = ",".join(f"caption_{i}" for i in range(1, 6))
    f = write(tmp_path / "development.csv",
              f"file_name,{cols}\nsound one.wav,a b c,d e f,g h i,j k l,m n o\n")
    res = ingest(f)
    assert res.fmt == "clotho" and len(res.captions) == 5
    assert set(res.captions.clip_id) == {"sound one"}
    assert set(res.captions.split) == {"train"}  # Clotho "development" is its training split


def test_caption_ids_are_stable_and_content_derived(tmp_path):
    f = write(tmp_path / "val.csv", "clip_id,caption\nc1,A dog barks\nc2,A cat meows\n")
    a, b = ingest(f), ingest(f)
    assert list(a.captions.caption_id) == list(b.captions.caption_id)
    assert a.captions.caption_id[0] == caption_id("val", "c1", "A dog barks")
    write(tmp_path / "val.csv", "clip_id,caption\nc1,A dog barks loudly\nc2,A cat meows\n")
    c = ingest(f)
    assert c.captions.caption_id[0] != a.captions.caption_id[0]
    assert c.captions.caption_id[1] == a.captions.caption_id[1]


def test_bad_rows_are_rejected_with_reasons_nothing_dropped(tmp_path):
    long = "word " * 300
    raw = ("audiocap_id,youtube_id,start_time,caption\n"
           "1,a,0,A good caption\n2,b,0,\n3,c,0,   \n4,d,0,12345\n"
           f"5,e,0,{long}\n1,f,0,Duplicate id here\n6,,0,No clip id\n7,g,0,NaN\n"
           "8,h,0,CafÃ© noises and a door\n").encode()
    raw += b"9,i,0,Bad \xff\xfe bytes here\n"
    f = write(tmp_path / "test.csv", raw)
    res = ingest(f)
    assert list(res.captions.caption) == ["A good caption"]
    reasons = dict(zip(res.rejects.source_row, res.rejects.reason, strict=True))
    assert reasons[1] == "empty" and reasons[2] == "empty"
    assert reasons[3] == "no_letters"
    assert reasons[4].startswith("too_long")
    assert reasons[5].startswith("duplicate_id")
    assert reasons[6] == "missing_clip_id"
    assert reasons[7] == "null_like"
    assert reasons[8] == "broken_encoding (mojibake)"
    assert reasons[9] == "broken_encoding (invalid UTF-8)"
    assert "\\xff" in res.rejects.set_index("source_row").raw[9]
    assert len(res.captions) + len(res.rejects) == res.counts["caption_cells"] == 10
    stats = res.stats()  # the stage contract's shape: every cell is a caption or a reject
    assert (stats.stage, stats.rows_in, stats.rows_out, stats.rejected) == ("ingest", 10, 1, 9)
    assert stats.extra["reject_reasons"]["empty"] == 2 and stats.extra["format"] == "audiocaps"
    assert stats.counts["input_rows"] == 10


def test_jsonl_with_mapping_and_bad_values(tmp_path):
    lines = [{"audio": "x1", "text": "Birds sing", "part": "validation"},
             {"audio": "x2", "text": None}, {"audio": "x3", "text": 42},
             {"audio": "x4", "text": "A\x07bell"}]
    body = "\n".join(json.dumps(x) for x in lines) + "\nnot json\n[1, 2]\n"
    f = write(tmp_path / "caps.jsonl", body)
    res = ingest(f, mapping=ColumnMapping(caption="text", clip_id="audio", split="part"))
    assert list(res.captions.caption) == ["Birds sing"]
    assert list(res.captions.split) == ["val"]
    reasons = list(res.rejects.reason)
    assert reasons[0] == "missing" and reasons[1] == "not_text (int)"
    assert reasons[2] == "control_characters"
    assert reasons[3].startswith("invalid_json") and reasons[4].startswith("not_an_object")


def test_a_split_column_is_used_when_present(tmp_path):
    f = write(tmp_path / "mine.csv", "clip_id,split,caption\na,validation,Wind\nb,train,Rain\n")
    assert list(ingest(f).captions.split) == ["val", "train"]


def test_parquet_with_nan(tmp_path):
    df = pd.DataFrame({"clip_id": ["a", "b"], "caption": ["Wind blows", float("nan")]})
    df.to_parquet(tmp_path / "caps.parquet")
    res = ingest(tmp_path / "caps.parquet", split="test")
    assert list(res.captions.caption) == ["Wind blows"] and list(res.captions.split) == ["test"]
    assert list(res.rejects.reason) == ["missing"]


@pytest.mark.parametrize("content,fmt,match", [
    ("clip_id,text\na,b\n", "auto", r"missing column\(s\) \['caption'\]"),
    ("audiocap_id,caption\n1,x\n", "audiocaps", "missing column"),
    (b"\x00\x01\x02binary", "csv", "looks binary"),
])
def test_unreadable_files_stop_with_one_clear_message(tmp_path, content, fmt, match):
    f = write(tmp_path / "x.csv", content)
    with pytest.raises(RobustclapError, match=match):
        ingest(f, fmt=fmt)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(RobustclapError, match="not found"):
        ingest(tmp_path / "nope.csv")
    with pytest.raises(RobustclapError, match="--format"):
        ingest(write(tmp_path / "x.xlsx", "a"))
    with pytest.raises(RobustclapError, match="not a readable Parquet"):
        ingest(write(tmp_path / "x.parquet", "not parquet"))


def test_max_clips_keeps_whole_clips(tmp_path):
    f = write(tmp_path / "c.csv", "clip_id,caption\na,x y\na,y z\nb,z w\nc,w v\n")
    res = ingest(f, max_clips=2)
    assert list(res.captions.clip_id) == ["a", "a", "b"]


def test_real_audiocaps_and_clotho_counts(shared_data):
    train = ingest(shared_data / "audiocaps" / "train.csv")
    assert len(train.captions) == 49_838 and train.rejects.empty
    assert train.captions.caption_id.is_unique
    val = ingest(shared_data / "audiocaps" / "val.csv")
    assert len(val.captions) == 2_475 and val.captions.clip_id.nunique() == 495
    dev = ingest(shared_data / "clotho" / "development.csv")
    assert len(dev.captions) == 3_839 * 5 and dev.captions.clip_id.nunique() == 3_839
    assert dev.captions.caption_id.is_unique
    clotho_val = ingest(shared_data / "clotho" / "validation.csv", max_clips=200)
    assert len(clotho_val.captions) == 1_000
