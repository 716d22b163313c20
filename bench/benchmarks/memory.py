"""6. memory at scale: peak RSS of gate + publish + dashboard overview query at growing
candidate counts, each size in a fresh subprocess.

Rows are generated (dashboard.synthetic: a few distinct caption/paraphrase texts repeated), in
a separate subprocess that is not measured. The encoders are replaced by the cached-score
path: one warm-up gate (not measured) fills a score cache for those texts, and every measured
gate reads its scores from a copy of that cache, so no encoder model is loaded and the
measure is about data handling (DuckDB streaming, decisions, Parquet writing, publish, the
overview queries).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from robustclap.bench.common import REPO, sized
from robustclap.bench.harness import Goal, Result

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, root, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
out = {}
def peak_mib():
    # VmHWM: this process's own peak RSS (ru_maxrss would carry the forking parent's peak
    # across exec, e.g. a benchmark process that holds a vLLM engine)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if mode == "data":
    from robustclap.dashboard.synthetic import write_version
    write_version(root / "src", 1, max(n // 4, 1))
elif mode == "warm":
    from robustclap.quality.config import load_config
    from robustclap.quality.gate import run_gate
    run_gate(root / "src" / "v1", root / "gate", load_config(), cache_path=sys.argv[4])
else:
    out["start_mib"] = peak_mib()
    from robustclap.quality.config import load_config
    from robustclap.quality.gate import run_gate
    from robustclap.corpus.publish import publish
    from robustclap.dashboard import overview, queries
    from robustclap.dashboard.corpus import open_version
    from robustclap.contracts import layout
    out["imports_mib"] = peak_mib()
    src = root / "src" / "v1"
    t = time.perf_counter()
    g = run_gate(src, root / "gate", load_config(), cache_path=sys.argv[4])
    out["gate_s"] = time.perf_counter() - t
    out["scores_computed"] = g.counts["scores_computed"]
    out["candidates"] = g.rows_in
    out["after_gate_mib"] = peak_mib()
    gen = root / "gen"
    gen.mkdir(exist_ok=True)
    (gen / layout.CAPTIONS_FILE).symlink_to(src / layout.CAPTIONS_FILE)
    (gen / layout.CANDIDATES_DIR).symlink_to(src / layout.CANDIDATES_DIR)
    t = time.perf_counter()
    info = {"source": {"input": "synthetic"}, "model": "synthetic-llm", "model_revision": "0",
            "prompt_versions": {}, "gate_version": g.extra["gate_version"], "rounds": 0}
    m = publish(root / "corpus", "bench", gen, root / "gate", info)
    out["publish_s"] = time.perf_counter() - t
    out["after_publish_mib"] = peak_mib()
    t = time.perf_counter()
    con = queries.connect()
    overview.build(con, open_version(root / "corpus"))
    con.close()
    out["overview_s"] = time.perf_counter() - t
    out["after_overview_mib"] = peak_mib()
    out["peak_rss_mib"] = peak_mib()
print("BENCH-RESULT " + json.dumps(out))
"""


def _child(args: list[str], timeout: float = 1800) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed: {proc.stderr[-1500:]}")
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT "):])
    return {}


def run(workdir: Path, **opts) -> Result:
    sizes = sized(opts, "memory_rows")
    workdir.mkdir(parents=True, exist_ok=True)
    res = Result("memory", "memory at scale: peak RSS of gate + publish + overview",
                 params={"rows": sizes})
    warm_cache = workdir / "warm-cache.sqlite"
    warm_root = workdir / "warm"
    shutil.rmtree(warm_root, ignore_errors=True)
    _child(["data", str(warm_root), str(min(sizes))])
    t = time.perf_counter()
    _child(["warm", str(warm_root), str(min(sizes)), str(warm_cache)])
    res.metrics["warmup_gate_s (encoders, not measured)"] = round(time.perf_counter() - t, 1)
    shutil.rmtree(warm_root, ignore_errors=True)
    per = {}
    for n in sizes:
        root = workdir / f"n{n}"
        shutil.rmtree(root, ignore_errors=True)
        _child(["data", str(root), str(n)])
        cache = root / "cache.sqlite"
        shutil.copy(warm_cache, cache)
        r = _child(["measure", str(root), str(n), str(cache)])
        r = {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
        per[n] = r
        res.metrics[f"rows={n}"] = r
        shutil.rmtree(root, ignore_errors=True)
    lo, hi = min(sizes), max(sizes)
    share = per[hi]["peak_rss_mib"] / per[lo]["peak_rss_mib"]
    res.metrics["peak_rss_ratio_largest_over_smallest"] = round(share, 3)
    grow = per[hi]["peak_rss_mib"] - per[lo]["peak_rss_mib"]
    res.metrics["peak_rss_growth_mib"] = round(grow, 1)
    res.goals.append(Goal(f"peak RSS {hi:,} rows / {lo:,} rows", share, 1.3))
    if per[hi].get("gate_s"):
        res.metrics["gate_rows_per_s_largest (cached scores)"] = round(hi / per[hi]["gate_s"])
    res.notes.append("encoders replaced by the cached-score path (scores precomputed for the "
                     "generated texts in an unmeasured warm-up gate); no model is loaded in "
                     "the measured process")
    return res
