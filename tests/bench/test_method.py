"""`robustclap bench method` at smoke size: a tiny scene set from the real ESC-50 clips, a small
hand-made published corpus (so no LLM runs), two training steps per setting; the table has a
row per setting and query kind, the plot is a PNG, the goals are computed from the summary."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from robustclap.bench.benchmarks.method import goals, markdown
from robustclap.bench.scenes.experiment import BEFORE, KINDS, METRICS, MULTI, PLAIN


def _default(field: pa.Field, value):
    if value is not None or field.nullable:
        return value
    t = field.type
    if pa.types.is_string(t):
        return "x"
    if pa.types.is_boolean(t):
        return False
    if pa.types.is_floating(t):
        return 0.0
    if pa.types.is_list(t):
        return []
    return 0


def _rows(spec, rows: list[dict]) -> list[dict]:
    """Complete rows for `spec` (every column; unnamed ones get a neutral value)."""
    return [{f.name: _default(f, r.get(f.name)) for f in spec.schema} for r in rows]


def _publish_fake_corpus(scenes_dir: Path) -> None:
    """corpus/scenes/v1 with accepted.parquet and candidates/, `latest` -> v1, as publish
    lays it out; paraphrases are simple rewrites of the scene captions."""
    import pandas as pd

    from robustclap.contracts.schema import CANDIDATES, CORPUS, write_table

    para = pd.read_csv(scenes_dir / "paraphrase" / "scenes.csv")
    rows = []
    for i, r in enumerate(para.itertuples()):
        for level in (1, 2):
            text = (f"Heard here: {r.caption.lower()}" if level == 1
                    else r.caption.replace("dog", "hound").replace("rain", "showers"))
            rows.append({"caption_id": f"c{i}", "clip_id": r.clip_id, "split": r.split,
                         "source": "scenes", "caption": r.caption, "level": level,
                         "candidate": 0, "paraphrase": text, "rank": 0, "status": "ok"})
    version = scenes_dir / "corpus" / "scenes" / "v1"
    accepted = [r for k, r in enumerate(rows) if k % 3]  # the "gate" keeps two thirds
    write_table(CORPUS, _rows(CORPUS, accepted), version / "accepted.parquet")
    write_table(CANDIDATES, _rows(CANDIDATES, rows), version / "candidates" / "r00.parquet")
    (scenes_dir / "corpus" / "scenes" / "latest").symlink_to("v1")


@pytest.fixture(scope="module")
def scenes_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from robustclap.bench.scenes.build import build_scenes

    out = tmp_path_factory.mktemp("scenes")
    build_scenes(shared_data, out, n_train=16, n_test=8, n_paraphrase=6, seed=1)
    _publish_fake_corpus(out)
    return out


@pytest.mark.parametrize("clap", ["tiny", "two-tower"])
def test_bench_method_smoke_writes_table_plot_and_goals(scenes_dir: Path, shared_data: Path,
                                                          tmp_path: Path, clap: str) -> None:
    import torch

    from robustclap.bench.benchmarks.method import SETTINGS, UNGATED, run

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core machine: the second OpenMP thread spin-waits
    try:
        res = run(tmp_path / "work", size="smoke", scenes_dir=scenes_dir,
                  results_dir=tmp_path / "results", data_dir=shared_data, clap=clap)
    finally:
        torch.set_num_threads(threads)
    assert res.error is None
    data = res.metrics["data"]
    assert data["train_scenes"] == 16 and data["test_scenes"] == 8
    assert data["queries"]["original"] == 8 and data["queries"]["reworded"] == 8
    assert 0 < data["queries"]["llm_level1"] <= 8  # the fake gate dropped some
    assert data["train_scenes_with_level1"] > 0
    assert data["train_paraphrases_ungated"] >= data["train_paraphrases"]
    assert data["zero_shot_clips"]["all"] == 24
    summary = res.metrics["summary"]
    before = set(BEFORE) if clap == "two-tower" else set()
    assert set(summary) == set(SETTINGS) | set(UNGATED) | before
    for entry in summary.values():
        mean, std = entry["retrieval"]["original"]["R@1"]
        assert 0.0 <= mean <= 1.0 and std == 0.0  # one seed at smoke size
        assert "reworded" in entry["drop"] and "llm" in entry["drop"]
        assert 0.0 <= entry["zero_shot"]["top1_all"][0] <= 1.0
    stem = "method-smoke" if clap == "two-tower" else "method-tiny-smoke"
    md = (tmp_path / "results" / f"{stem}.md").read_text()
    for name in summary:  # one retrieval row per kind, one drop row per paraphrase kind
        assert md.count(f"| {name} | original |") == 1
        assert md.count(f"| {name} | reworded |") == 2
    assert "## Zero-shot ESC-50" in md
    assert (tmp_path / "results" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "results" / f"{stem}.json").read_text())
    # per setting (multi-view, ungated, grammar views): 2 drop ratios, original R@1,
    # zero-shot; two-tower: also the plain original R@1 floor and the number of LLM queries
    n_goals = 12 + (2 if clap == "two-tower" else 0)
    assert data["train_grammar_views"]["level2"] > 0
    assert len(saved["runs"][PLAIN]) == 1 and len(saved["goals"]) == len(res.goals) == n_goals
    assert saved["params"]["corpus"]["accepted"] > 0
    assert "## Goals" in md


def test_markdown_rows_and_goals_from_a_summary() -> None:
    def stat(x: float) -> dict:
        return {m: (x, 0.01) for m in METRICS}

    summary = {
        PLAIN: {"retrieval": {k: stat(0.4) for k in KINDS},
                "drop": {k: stat(0.5) for k in KINDS[1:]}},
        MULTI: {"retrieval": {k: stat(0.41) for k in KINDS},
                "drop": {k: stat(0.2) for k in KINDS[1:]}},
    }
    md = markdown(summary, {"train_scenes": 3}, {"steps": 1})
    rows = [line for line in md.splitlines() if line.startswith(f"| {PLAIN} |")]
    assert len(rows) == len(KINDS) + len(KINDS) - 1  # retrieval rows + drop rows
    assert "| 0.400 ± 0.010 |" in md and "50.0 ± 1.0%" in md
    ratio, reworded, original = goals(summary)  # no ungated ablation in this summary
    assert ratio.value == pytest.approx(0.4) and ratio.met and reworded.met
    assert original.value == pytest.approx(0.01 + 0.01) and original.met
    summary[MULTI]["retrieval"]["original"]["R@1"] = (0.3, 0.01)
    assert not goals(summary)[2].met  # original R@1 lower by more than the spread
    summary[PLAIN]["drop"]["llm"]["R@1"] = (None, None)  # undefined: not measurable
    assert goals(summary)[0].value is None and goals(summary)[0].met is None


def test_every_accepted_test_paraphrase_is_a_query_paired_with_its_original() -> None:
    """Two accepted rewrites of one test caption are two queries of their scene; a caption
    without one has none; train rows never become queries."""
    from types import SimpleNamespace

    import pandas as pd

    from robustclap.bench.scenes.queries import test_queries

    test = [SimpleNamespace(caption="A dog barks.", reworded="A hound woofs."),
            SimpleNamespace(caption="Rain falls.", reworded="Showers drum.")]
    corpus = pd.DataFrame({
        "split": ["test", "test", "test", "train"],
        "caption": ["A dog barks.", "A dog barks.", "A dog barks.", "Rain falls."],
        "level": [1, 1, 2, 1], "rank": [1, 0, 0, 0], "candidate": [1, 0, 0, 0],
        "paraphrase": ["Barking comes from a dog.", "A dog is barking.", "A hound yaps.",
                       "Falling rain."],
    })
    q = test_queries(test, corpus)
    assert q["llm_level1"].texts == ["A dog is barking.", "Barking comes from a dog."]
    assert q["llm_level1"].target == [0, 0]
    assert q["llm_level2"].texts == ["A hound yaps."] and q["llm_level2"].target == [0]
    assert q["original"].target == [0, 1] and q["reworded"].texts[1] == "Showers drum."
