"""yield, models: the packaged models side by side, faithful paraphrases per CPU-minute (issue 23).

Every model runs the quickstart's generation settings (examples/quickstart.yaml: candidates,
sampling, attempts, feedback, 1 + regenerate_rounds rounds), with its own measured per-level
sampling (pipeline/level_sampling.py), on the same real captions (the shared labelled set's and
Clotho validation's), gated by the shipped gate config. "Faithful" means accepted by that gate;
a person checks a sample (`yield-accepted.csv`).

Per model and level: accepted paraphrases, the share of captions with ≥ 1 accepted view, LLM
calls and calls per accepted paraphrase. Per model: engine start (apart), wall time and CPU time
of generation + gate (this process and its children, from /proc: on a shared 2-core machine CPU
time moves less than wall time), completion tokens per LLM-second, accepted per LLM call, per
CPU-minute and per wall-minute. `--quickstart` also times `robustclap run
examples/quickstart.yaml --model M` per model on a fresh LLM cache (the converted models are
reused), as a user runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from robustclap.bench.benchmarks.yield_rate import run_variant, sources
from robustclap.bench.common import REPO
from robustclap.bench.harness import Result

QUICKSTART = REPO / "examples" / "quickstart.yaml"


def tree_cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) of a process and all its live descendants, plus what its
    reaped children used (/proc; Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended while we looked
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        parent[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
        if int(entry) == (pid or os.getpid()):
            times[int(entry)] += (int(fields[13]) + int(fields[14])) / tick
    root = pid or os.getpid()
    total, stack = 0.0, [root]
    seen: set[int] = set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        total += times.get(p, 0.0)
        stack += [c for c, pp in parent.items() if pp == p]
    return total


def _per(n: float, d: float | None, digits: int = 3) -> float | None:
    return round(n / d, digits) if d else None


def measure_model(model: str, captions: dict[str, Path], workdir: Path, opts: dict,
                  gate_cfg, rounds: int, generate_cfg) -> tuple[dict, list[dict], pd.DataFrame]:
    """One model on every caption source: (summary, rows per source/round/level, accepted)."""
    from robustclap.bench.common import inprocess_engine, release_engines
    from robustclap.llm.model_ref import resolve_model
    from robustclap.pipeline.level_sampling import level_plans

    ref = resolve_model(model)  # raises a RobustclapError when the model is not installed
    release_engines()  # one engine at a time: the other model's would take CPU and memory
    backend, start_s = inprocess_engine({**opts, "model": ref.name}, workdir)
    short = model.removeprefix("packaged:")
    cfg = generate_cfg.model_copy(update={
        "model": model, "backend": "inprocess", "shard_size": 64,
        "cache_dir": str(workdir / f"llm-cache-{short}")})
    plans = level_plans(cfg, model)
    rows: list[dict] = []
    accepted: list[pd.DataFrame] = []
    totals: dict = {}
    n_total = 0
    cpu0, wall0 = tree_cpu_s(), time.perf_counter()
    for source, csv in captions.items():
        count = len(pd.read_csv(csv))
        n_total += count
        got, acc = run_variant(f"{short}-{source}", csv, workdir, backend, cfg, gate_cfg,
                               rounds, count, ref, totals)
        rows += [{"model": model, "source": source, **r} for r in got]
        accepted.append(acc.assign(model=model, source=source))
    cpu_s, wall_s = tree_cpu_s() - cpu0, time.perf_counter() - wall0
    alt_rows = (sampling_check(model, captions, workdir, backend, cfg, gate_cfg, ref)
                if opts.get("sampling_check") else [])
    release_engines()
    acc_all = pd.concat(accepted) if accepted else pd.DataFrame()
    summary: dict = {
        "model": model, "revision": ref.revision, "captions": n_total,
        "levels": {lv: p.to_dict() for lv, p in plans.items()},
        "engine_start_s": start_s, "wall_s": round(wall_s, 1), "cpu_s": round(cpu_s, 1),
        "llm_calls": totals.get("llm_calls", 0),
        "completion_tokens": totals.get("completion_tokens", 0),
        "tokens_per_llm_s": _per(totals.get("completion_tokens", 0), totals.get("llm_seconds"),
                                 1),
        "accepted": len(acc_all),
    }
    for lv in cfg.levels:
        a = acc_all[acc_all["level"] == lv] if len(acc_all) else acc_all
        last = [r for r in rows if r["level"] == lv and r["round"] == max(
            x["round"] for x in rows if x["source"] == r["source"])]
        calls = sum(r["llm_calls"] for r in last)
        with_view = len(set(zip(a["source"], a["caption_id"], strict=True))) if len(a) else 0
        summary[f"level{lv}"] = {
            "accepted": len(a), "llm_calls": calls,
            "captions_with_accepted": _per(with_view, n_total),
            "calls_per_accepted": _per(calls, len(a), 2),
        }
    summary["accepted_per_llm_call"] = _per(len(acc_all), summary["llm_calls"])
    summary["accepted_per_cpu_min"] = _per(len(acc_all), cpu_s / 60, 2)
    summary["accepted_per_wall_min"] = _per(len(acc_all), wall_s / 60, 2)
    if alt_rows:
        summary["sampling_check"] = {
            "other": alt_rows[0]["variant"].removeprefix("alt: "),
            **{f"level{lv}": {"shipped": _round0(rows, lv), "other": _round0(alt_rows, lv)}
               for lv in cfg.levels}}
    return summary, rows + alt_rows, acc_all


def _round0(rows: list[dict], level: int) -> dict:
    """Round 0 over all sources: accepted, LLM calls, accepted per call."""
    r0 = [r for r in rows if r["round"] == 0 and r["level"] == level]
    acc, calls = sum(r["accepted"] for r in r0), sum(r["llm_calls"] for r in r0)
    return {"accepted": acc, "llm_calls": calls, "accepted_per_call": _per(acc, calls)}


def alternative(cfg):
    """The other sampling for the check: the run config's (temperature 0.8, 2 candidates) for
    a model with measured per-level defaults, greedy with one candidate for one without."""
    from robustclap.pipeline.level_sampling import model_level_sampling

    if model_level_sampling(cfg.model):
        return cfg.model_copy(update={"model_sampling": False}), "config sampling"
    greedy = {lv: {"temperature": 0.0, "top_p": 1.0, "candidates": 1} for lv in cfg.levels}
    return cfg.model_validate({**cfg.model_dump(), "level_sampling": greedy}), "greedy"


def sampling_check(model: str, captions: dict[str, Path], workdir: Path, backend, cfg,
                   gate_cfg, ref) -> list[dict]:
    """One round with the other sampling on the same captions and engine (its round 0 is
    compared with the main run's round 0); rows marked variant "alt: ..."."""
    alt_cfg, label = alternative(cfg)
    alt_cfg = alt_cfg.model_copy(update={"cache_dir": cfg.cache_dir})
    rows: list[dict] = []
    for source, csv in captions.items():
        got, _ = run_variant(f"{model.removeprefix('packaged:')}-{source}-alt", csv, workdir,
                             backend, alt_cfg, gate_cfg, 1, len(pd.read_csv(csv)), ref)
        rows += [{"model": model, "source": source, **r, "variant": f"alt: {label}"}
                 for r in got]
    return rows


def run_quickstart(model: str, workdir: Path) -> dict:
    """`robustclap run examples/quickstart.yaml --model MODEL` on a copy of examples/ with a
    fresh LLM cache (converted models linked in): what a user's first run costs."""
    from robustclap.llm.settings import default_cache_dir

    root = workdir / f"quickstart-{model.removeprefix('packaged:')}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "examples", root / "examples")
    (root / "cache").mkdir()
    (root / "cache" / "models").symlink_to(default_cache_dir() / "models")
    env = {**os.environ, "ROBUSTCLAP_CACHE_DIR": str(root / "cache"), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "robustclap", "run",
                           str(root / "examples" / "quickstart.yaml"), "--model", model],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=3600)
    wall = round(time.perf_counter() - started, 1)
    out: dict = {"model": model, "wall_s": wall, "returncode": proc.returncode}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode == 0 and lines:
        out.update(json.loads(lines[-1]))
        summary = Path(out["path"]) / "summary.json"
        if summary.is_file():  # the gate the run used (it loads the config itself)
            out["gate_version"] = json.loads(summary.read_text()).get("extra", {}).get(
                "gate_version")
    else:
        out["error"] = (proc.stderr or proc.stdout)[-1500:]
    return out


def markdown(summaries: list[dict], quick: list[dict]) -> str:
    head = ["model", "captions", "engine start s", "wall s", "CPU s", "tok/s", "LLM calls",
            "L1 accepted", "L1 share", "L1 calls/acc", "L2 accepted", "L2 share",
            "L2 calls/acc", "accepted/call", "accepted/CPU-min", "accepted/wall-min"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        l1, l2 = s.get("level1", {}), s.get("level2", {})
        cells = [s["model"], s["captions"], s["engine_start_s"], s["wall_s"], s["cpu_s"],
                 s["tokens_per_llm_s"], s["llm_calls"], l1.get("accepted"),
                 l1.get("captions_with_accepted"), l1.get("calls_per_accepted"),
                 l2.get("accepted"), l2.get("captions_with_accepted"),
                 l2.get("calls_per_accepted"), s["accepted_per_llm_call"],
                 s["accepted_per_cpu_min"], s["accepted_per_wall_min"]]
        lines.append("| " + " | ".join("" if c is None else str(c) for c in cells) + " |")
    checks = [s for s in summaries if "sampling_check" in s]
    if checks:
        lines += ["", "| round 0, model | level | shipped sampling: accepted / calls | "
                  "other sampling | other: accepted / calls |", "|---|---|---|---|---|"]
        for s in checks:
            c = s["sampling_check"]
            for lv in (1, 2):
                if f"level{lv}" in c:
                    a, b = c[f"level{lv}"]["shipped"], c[f"level{lv}"]["other"]
                    lines.append(f"| {s['model']} | {lv} | {a['accepted']} / {a['llm_calls']}"
                                 f" | {c['other']} | {b['accepted']} / {b['llm_calls']} |")
    if quick:
        lines += ["", "| quickstart model | wall s | result | accepted | LLM calls | gate |",
                  "|---|---|---|---|---|---|"]
        for q in quick:
            lines.append(f"| {q['model']} | {q['wall_s']} | {q.get('message') or 'error'} | "
                         f"{q.get('accepted', '')} | {q.get('llm_calls', '')} | "
                         f"{q.get('gate_version', '')} |")
    return "\n".join(lines)


def run(workdir: Path, **opts) -> Result:
    from robustclap.contracts.errors import RobustclapError
    from robustclap.flows.config import load_run_config
    from robustclap.llm.packaged import PACKAGED, PREFIX
    from robustclap.quality.config import load_config as load_gate_config

    n = opts.get("captions") or 20
    models = opts.get("models") or [PREFIX + k for k in PACKAGED]
    quick_rc = load_run_config(QUICKSTART, {})
    rounds = 1 + quick_rc.regenerate_rounds
    gate_cfg = load_gate_config(None)
    if gate_cfg.judge.enabled:
        raise RobustclapError("bench yield: the shipped gate switches the LLM judge on; this "
                              "benchmark runs the gate without a judge engine")
    res = Result("yield", "yield: packaged models side by side (quickstart settings, shipped "
                 "gate), faithful accepted paraphrases per CPU-minute",
                 params={"captions_per_source": n, "rounds": rounds, "models": models,
                         "gate_version": gate_cfg.version,
                         "generate": json.loads(quick_rc.generate.model_dump_json()),
                         "loadavg_before": os.getloadavg()})
    captions = sources(n, workdir)
    summaries: list[dict] = []
    rows: list[dict] = []
    accepted: list[pd.DataFrame] = []
    for model in models:
        try:
            summary, got, acc = measure_model(model, captions, workdir, opts, gate_cfg, rounds,
                                              quick_rc.generate)
        except RobustclapError as exc:  # not installed: said in the results, not hidden
            res.notes.append(f"{model}: not measured: {exc}")
            continue
        summaries.append(summary)
        rows += got
        accepted.append(acc)
    out_dir = Path(opts.get("out") or workdir)
    names = ", ".join(captions)
    save(out_dir, res, summaries, rows, accepted, [], gate_cfg.version, n, names)  # so far
    quick = [run_quickstart(m["model"], workdir) for m in summaries] if opts.get(
        "quickstart") else []
    res.params["loadavg_after"] = os.getloadavg()
    try:  # the gate config may have changed (or be half-edited) while this ran
        res.params["gate_version_after"] = load_gate_config(None).version
    except RobustclapError as exc:
        res.params["gate_version_after"] = f"unreadable: {exc}"[:300]
    table = save(out_dir, res, summaries, rows, accepted, quick, gate_cfg.version, n, names)
    res.notes.append("\n" + table)
    res.notes.append(f"written: {out_dir / 'yield.json'}, yield.md, yield-accepted.csv")
    return res


def save(out_dir: Path, res: Result, summaries: list[dict], rows: list[dict],
         accepted: list[pd.DataFrame], quick: list[dict], gate_version: str, n: int,
         names: str) -> str:
    """yield.json, yield.md and yield-accepted.csv (written before the quickstarts too, so a
    quickstart that fails keeps the comparison); returns the markdown table."""
    res.metrics.update(models=summaries, rounds=rows, quickstart=quick)
    table = markdown(summaries, quick)
    out_dir.mkdir(parents=True, exist_ok=True)
    if accepted:
        cols = ["model", "source", "level", "caption", "paraphrase"]
        pd.concat(accepted)[cols].to_csv(out_dir / "yield-accepted.csv", index=False)
    saved = {"params": res.params, "models": summaries, "rounds": rows, "quickstart": quick}
    (out_dir / "yield.json").write_text(json.dumps(saved, indent=2, default=str))
    (out_dir / "yield.md").write_text(
        f"# bench yield: packaged models side by side\n\ngate version {gate_version}; "
        f"{n} captions per source ({names}); {res.params['rounds']} rounds; quickstart "
        f"generation settings.\n\n{table}\n")
    return table
