"""Prompts with worked examples, and regeneration rounds that tell the model what the gate found."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CANDIDATES, REGENERATE, col, read_dir, write_table
from robustclap.llm.types import Sampling
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.runner import run_generate
from robustclap.prompts import _parse, load_template
from robustclap.quality.feedback import describe, pick


def test_examples_are_chat_turns_before_the_caption_and_the_prefix_is_shared():
    t = load_template(1)
    assert len(t.examples) >= 3
    a, b = t.messages("A cat meows."), t.messages("Rain falls.")
    assert a[:-1] == b[:-1], "everything before the caption is identical (prefix cache)"
    assert a[-1] == {"role": "user", "content": "Caption: A cat meows."}
    answers = [m for m in a if m["role"] == "assistant"]
    assert [json.loads(m["content"])["paraphrase"] for m in answers] == [p for _, p in t.examples]


def test_feedback_turns_follow_the_caption():
    t = load_template(2)
    msgs = t.messages("A cat meows.", "A dog meows loudly.", "it added 'dog'.")
    assert msgs[:-2] == t.messages("A cat meows.")
    assert json.loads(msgs[-2]["content"]) == {"paraphrase": "A dog meows loudly."}
    assert msgs[-1]["role"] == "user" and "it added 'dog'." in msgs[-1]["content"]
    assert t.messages("A cat meows.", "x", None) == t.messages("A cat meows.")


@pytest.mark.parametrize("bad, message", [
    ("level: 1\nsystem: s\nuser: '{caption}'\nexamples: [{caption: a}]\n", "examples must"),
    ("level: 1\nsystem: s\nuser: '{caption}'\nfeedback: fix it\n", "must contain {problems}"),
    ("level: 1\nsystem: s\nuser: '{caption}'\nshots: []\n", "unknown keys"),
])
def test_bad_template_is_a_clear_error(bad, message):
    with pytest.raises(RobustclapError, match=message):
        _parse(bad, "t.yaml")


def test_describe_says_the_words_the_alignment_found():
    alignment = json.dumps({"missing": ["rain"], "added": ["thunder", "thunder"], "synonyms": [],
                            "roles": []})
    text = describe(["event_missing", "event_added", "restructure"], alignment)
    assert "dropped 'rain'" in text and "added 'thunder'," in text
    assert "structure is not changed enough" in text
    assert describe(["sbert"], None) == "the meaning drifted from the caption."
    again = describe(["event_added"], json.dumps({"added": ["thunder", "owl"]}),
                     "Rain falls and thunder rumbles.")
    assert again == "it added 'owl', which the caption does not say; it repeats 'thunder'."


def test_pick_shows_the_nearest_miss():
    rows = [("far off", ["sbert", "event_added", "event_missing"], {}, 0.9),
            ("close", ["restructure"], {}, 0.5), (None, ["generation_failed"], {}, None)]
    assert pick(rows) == ("close", "the sentence structure is not changed enough.")
    assert pick([(None, ["generation_failed"], {}, None)]) is None


@pytest.mark.slow
def test_regeneration_round_carries_feedback(tmp_path: Path, tiny_llm, inprocess_backend):
    """A regenerate list with feedback: the round's rows record it, and the cache keys differ
    from the same round without feedback (the model was asked something else)."""
    captions = tmp_path / "c.csv"
    captions.write_text("clip_id,split,caption\na,train,A dog barks.\nb,train,Rain falls.\n")
    cfg = GenerateConfig(model=str(tiny_llm), cache_dir=str(tmp_path / "cache"), candidates=1,
                         sampling=Sampling(max_tokens=24), max_attempts=1)
    run_generate(captions, tmp_path / "out", cfg, backend=inprocess_backend)
    first = read_dir(CANDIDATES, tmp_path / "out" / "candidates").to_pandas()
    cid = first.loc[first[col.caption] == "A dog barks.", col.caption_id].iloc[0]
    regen = tmp_path / "regenerate.parquet"
    write_table(REGENERATE, pd.DataFrame({
        col.caption_id: [cid, cid], col.level: [1, 2],
        col.previous: ["A cat barks.", None], col.feedback: ["it added 'cat'.", None],
    }), regen)
    m1 = run_generate(captions, tmp_path / "out", cfg, backend=inprocess_backend,
                      regenerate=regen, round_=1)
    rows = read_dir(CANDIDATES, tmp_path / "out" / "candidates").to_pandas()
    r1 = rows[rows[col.candidate] == 1].set_index(col.level)
    assert r1.loc[1, col.feedback] == "it added 'cat'." and pd.isna(r1.loc[2, col.feedback])
    assert m1.counts["llm_calls"] == 2

    plain = cfg.model_copy(update={"feedback": False})
    m2 = run_generate(captions, tmp_path / "out2", plain, backend=inprocess_backend,
                      regenerate=regen, round_=1)
    # level 2 had no feedback: same request as before (cache hit); level 1 differs
    assert m2.counts["cache_hits"] == 1 and m2.counts["llm_calls"] == 1
    r2 = read_dir(CANDIDATES, tmp_path / "out2" / "candidates").to_pandas()
    assert r2[col.feedback].isna().all()
