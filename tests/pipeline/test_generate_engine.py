"""Generation through the real vLLM engine (in-process) and a real `vllm serve`.

The tiny random model writes gibberish, so the parse / retry / failure paths run for real.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import CANDIDATES, col, read_dir
from robustclap.contracts.stage import read_stats
from robustclap.llm.types import Sampling
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.runner import run_generate

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "captions.csv"
KEY = [col.caption_id, col.level, col.candidate]

pytestmark = pytest.mark.slow


def config(tmp_path: Path, **kw) -> GenerateConfig:
    base = {"model": "tiny", "cache_dir": str(tmp_path / "cache"), "shard_size": 4,
            "sampling": Sampling(max_tokens=48), "max_attempts": 3}
    return GenerateConfig(**{**base, **kw})


def rows(out: Path) -> pd.DataFrame:
    return read_dir(CANDIDATES, out / "candidates").to_pandas()


def calls_made(df: pd.DataFrame) -> int:
    """Each final row took attempt+1 asks (attempts 0..attempt)."""
    return int((df[col.attempt] + 1).sum())


def check_exactly_once(df: pd.DataFrame, n_captions: int, levels: int, candidates: int) -> None:
    assert len(df) == n_captions * levels * candidates
    assert not df.duplicated(KEY).any()
    ok = df[col.status] == "ok"
    assert df.loc[ok, col.paraphrase].str.len().gt(0).all()
    assert df.loc[~ok, col.fail_reason].notna().all()
    assert df.loc[~ok, col.paraphrase].isna().all()


def test_inprocess_generate_rerun_and_incremental(tmp_path, tiny_llm, inprocess_backend):
    cfg = config(tmp_path, model=str(tiny_llm), backend="inprocess", candidates=2)
    out = tmp_path / "out"
    m1 = run_generate(EXAMPLE, out, cfg, backend=inprocess_backend)
    df1 = rows(out)
    check_exactly_once(df1, 20, 2, 2)
    assert m1.status == "complete" and m1.counts["rows_written"] == 80
    assert m1.counts["llm_calls"] == calls_made(df1) and m1.counts["cache_hits"] == 0
    assert m1.counts["failed_rows"] == int((df1[col.status] == "failed").sum()) > 0
    assert m1.counts["completion_tokens"] > 0 and m1.counts["tokens_per_s"] > 0
    assert m1.rows_in == m1.rows_out + m1.rejected == 80 and m1.rejected == m1.counts["failed_rows"]
    assert {"rows_per_s", "prompt_tokens"} <= set(m1.counts)
    assert {"versions", "prompt_versions", "fail_reasons"} <= set(m1.extra)
    on_disk = read_stats(out / "manifest.json")  # the manifest is the stats' own form
    assert on_disk.extra["run_id"] == m1.extra["run_id"] and on_disk.counts == m1.counts
    # parse failures keep the raw reply and ran out of attempts
    parse_fail = df1[df1[col.fail_reason].fillna("").str.startswith(("truncated", "invalid"))]
    assert (parse_fail[col.attempt] == 2).all() and parse_fail[col.raw_reply].notna().all()
    assert df1.groupby(KEY)[col.seed].nunique().eq(1).all()
    assert df1[col.seed].nunique() > 40  # a seed per row and attempt

    m2 = run_generate(EXAMPLE, out, cfg, backend=inprocess_backend)
    assert len(list((out / "manifests").glob("*.json"))) == 2  # the first run's is kept
    assert (m2.counts["llm_calls"], m2.counts["rows_skipped"], m2.counts["rows_written"]) == (
        0, 80, 0)
    pd.testing.assert_frame_equal(rows(out), df1)

    # one caption changed: only its items go to the LLM, the rest of its shard is cached
    (tmp_path / "v2").mkdir()
    changed = tmp_path / "v2" / EXAMPLE.name  # same name: generic sources are named by file
    text = EXAMPLE.read_text().replace("A bus pulls away", "A bus drives off")
    changed.write_text(text)
    m3 = run_generate(changed, out, cfg, backend=inprocess_backend)
    df3 = rows(out)
    check_exactly_once(df3, 20, 2, 2)
    new_ids = set(df3[col.caption_id]) - set(df1[col.caption_id])
    assert len(new_ids) == 1
    assert m3.counts["llm_calls"] == calls_made(df3[df3[col.caption_id].isin(new_ids)])
    assert m3.counts["shards_written"] == 1 and m3.counts["shards_skipped"] == 4

    # one template changed: exactly the level-2 items are asked again
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for lv in (1, 2):
        src = (REPO / "prompts" / f"level{lv}.yaml").read_text()
        if lv == 2:
            changed_src = src.replace("You rewrite audio captions.",
                                      "You rewrite audio captions for a corpus.")
            assert changed_src != src, "the level-2 template no longer has the edited sentence"
            src = changed_src
        (prompts / f"level{lv}.yaml").write_text(src)
    cfg2 = cfg.model_copy(update={"prompt_dir": str(prompts)})
    m4 = run_generate(changed, out, cfg2, backend=inprocess_backend)
    df4 = rows(out)
    assert m4.counts["llm_calls"] == calls_made(df4[df4[col.level] == 2])
    lv1 = df4[df4[col.level] == 1].sort_values(KEY).reset_index(drop=True)
    old1 = df3[df3[col.level] == 1].sort_values(KEY).reset_index(drop=True)
    assert list(lv1[col.paraphrase].fillna("")) == list(old1[col.paraphrase].fillna(""))


def test_level2_from_level1_output(tmp_path, tiny_llm, inprocess_backend):
    cfg = config(tmp_path, model=str(tiny_llm), backend="inprocess", level2_source="level1")
    out = tmp_path / "out"
    run_generate(EXAMPLE, out, cfg, backend=inprocess_backend, max_clips=3)
    df = rows(out)
    lv1 = df[df[col.level] == 1].set_index(col.caption_id)
    lv2 = df[df[col.level] == 2].set_index(col.caption_id)
    for cid, row in lv2.iterrows():
        if lv1.loc[cid, col.status] == "ok":
            assert row[col.input_text] == lv1.loc[cid, col.paraphrase]
        else:
            assert row[col.fail_reason] == "no_level1_input"


def test_served_generate_on_real_captions(tmp_path, vllm_server, shared_data):
    cfg = config(tmp_path, base_url=vllm_server)
    out = tmp_path / "out"
    m = run_generate(shared_data / "clotho" / "validation.csv", out, cfg, max_clips=3)
    df = rows(out)
    check_exactly_once(df, 15, 2, 1)
    assert m.counts["llm_calls"] == calls_made(df) and m.extra["model"] == "tiny"
    assert (df[col.split] == "val").all() and (df[col.source] == "clotho").all()
    assert df[col.latency_s].gt(0).all() and df[col.prompt_tokens].gt(100).all()


@pytest.mark.parametrize("status_code", [500, 429])
def test_transient_http_errors_are_retried(tmp_path, vllm_server, fault_proxy, status_code):
    with fault_proxy(vllm_server, fail_first=3, fail_status=status_code) as proxy:
        cfg = config(tmp_path, base_url=proxy.url, max_retries=3, concurrency=4)
        m = run_generate(EXAMPLE, tmp_path / "out", cfg, max_clips=2)
    assert m.status == "complete" and m.counts["retryable_failures"] == 0
    assert proxy.requests == m.counts["llm_calls"] + 3  # the three refused asks were each retried
    check_exactly_once(rows(tmp_path / "out"), 4, 2, 1)


def test_permanent_error_is_not_retried(tmp_path, vllm_server, fault_proxy):
    with fault_proxy(vllm_server, fail_first=2, fail_status=400) as proxy:
        cfg = config(tmp_path, base_url=proxy.url, max_retries=3, concurrency=1)
        m = run_generate(EXAMPLE, tmp_path / "out", cfg, max_clips=2)
    assert proxy.requests == m.counts["llm_calls"]
    df = rows(tmp_path / "out")
    assert df[col.fail_reason].fillna("").str.startswith("http 400").sum() == 2


def test_stalled_requests_time_out_and_are_retried(tmp_path, vllm_server, fault_proxy):
    with fault_proxy(vllm_server, stall_first=2, stall_s=4.0) as proxy:
        cfg = config(tmp_path, base_url=proxy.url, request_timeout_s=1.5, max_retries=2,
                     concurrency=2)
        m = run_generate(EXAMPLE, tmp_path / "out", cfg, max_clips=1)
    assert m.status == "complete" and m.counts["retryable_failures"] == 0
    assert proxy.requests >= m.counts["llm_calls"] + 2


def test_refused_endpoint_stops_with_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = config(tmp_path, base_url=f"http://127.0.0.1:{port}", max_retries=1)
    with pytest.raises(RobustclapError, match="stopped answering"):
        run_generate(EXAMPLE, tmp_path / "out", cfg)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert not list((tmp_path / "out" / "candidates").glob("*.parquet"))


def test_server_dies_mid_run_then_resume(tmp_path, vllm_server, fault_proxy):
    out = tmp_path / "out"
    with fault_proxy(vllm_server, die_after=12) as proxy:
        cfg = config(tmp_path, base_url=proxy.url, max_retries=1, concurrency=1, shard_size=1)
        with pytest.raises(RobustclapError, match="stopped answering"):
            run_generate(EXAMPLE, out, cfg, max_clips=4)
    committed = len(list((out / "candidates").glob("*.parquet")))
    assert 1 <= committed < 8
    m = run_generate(EXAMPLE, out, cfg.model_copy(update={"base_url": vllm_server}), max_clips=4)
    assert m.status == "complete" and m.counts["shards_skipped"] == committed
    check_exactly_once(rows(out), 8, 2, 1)


def test_sigkill_mid_run_then_resume_exactly_once(tmp_path, vllm_server):
    out, cache = tmp_path / "out", tmp_path / "cache"
    cmd = [sys.executable, "-m", "robustclap", "generate", "--input", str(EXAMPLE),
           "--out", str(out), "--model", "tiny", "--base-url", vllm_server,
           "--cache-dir", str(cache), "--shard-size", "2", "--concurrency", "2",
           "--max-tokens", "48", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "candidates").glob("*.parquet"))) >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(list((out / "candidates").glob("*.parquet")))
    assert killed_at < 10
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["shards_skipped"] >= killed_at
    df = rows(out)
    check_exactly_once(df, 20, 2, 1)
    assert Counter(map(tuple, df[KEY].values.tolist())).most_common(1)[0][1] == 1
    assert not list((out / "candidates").glob(".*.tmp"))
