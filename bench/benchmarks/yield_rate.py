"""yield: faithful paraphrases per LLM call from a real model.

By default `robustclap bench yield` compares the packaged models (yield_models.py, issue 23).
With `--prompt-study` it runs the prompt study of issue 14, described here: the generate →
gate → regenerate loop (the paraphrase flow's rounds, without Prefect) with the packaged
SmolLM2-135M-Instruct on real captions: the captions of the shared hand-labelled
candidates and Clotho validation captions. Per variant and level, after each round: the share of
captions with at least one accepted paraphrase, and LLM calls and completion tokens per accepted
paraphrase. Variants run side by side on one engine and one gate config:

- `before`: the v1 prompts (bench/prompts_v1, instruction with inline examples) and plain
  regeneration (new seeds, same prompt);
- `after`: the shipped prompts (worked examples as chat turns) and regeneration with feedback
  (the rejected rewrite and what the gate found in it);
- `after_no_feedback`: the shipped prompts, plain regeneration (separates the two changes;
  its round 0 is `after`'s, read from the response cache).

Options: `--captions N` captions per source, `--temperatures 0.5,0.8,1.0` adds a one-round
temperature sweep of `after`, `--level2-source` adds `after` with level 2 from the level-1
output. Accepted rows are written to `yield-accepted-*.csv` for review: the gate decides, a
person checks a sample.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd

from robustclap.bench.common import REPO, SHARED_DATA
from robustclap.bench.harness import Goal, Result
from robustclap.contracts import layout

PROMPTS_V1 = REPO / "bench" / "prompts_v1"
LABELLED = SHARED_DATA / "labelled_candidates" / "clotho_dev_smollm2.jsonl"
CLOTHO_VAL = SHARED_DATA / "clotho" / "validation.csv"


def sources(n: int, workdir: Path) -> dict[str, Path]:
    """Caption CSVs: the labelled set's captions and Clotho validation captions (n of each)."""
    out: dict[str, Path] = {}
    if LABELLED.is_file():
        rows = [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]
        caps = list(dict.fromkeys(r["caption"] for r in rows))[:n]
        out["labelled"] = _csv(caps, workdir / "labelled.csv")
    if CLOTHO_VAL.is_file():
        df = pd.read_csv(CLOTHO_VAL)
        caps = [c for c in df["caption_1"].astype(str) if c.strip()][:n]
        out["clotho_val"] = _csv(caps, workdir / "clotho_val.csv")
    if not out:
        raise FileNotFoundError(f"no real captions: {SHARED_DATA} is absent")
    return out


def _csv(captions: list[str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"clip_id": [f"c{i:05d}" for i in range(len(captions))], "split": "train",
                  "caption": captions}).to_csv(path, index=False)
    return path


def _accepted(gate_dir: Path) -> pd.DataFrame:
    from robustclap.contracts.schema import CORPUS, read_table

    return read_table(CORPUS, gate_dir / layout.ACCEPTED_FILE).to_pandas()


def run_variant(name: str, csv: Path, workdir: Path, backend, cfg, gate_cfg, rounds: int,
                n_captions: int, model=None, totals: dict | None = None
                ) -> tuple[list[dict], pd.DataFrame]:
    """Rounds of generate → gate → regenerate; one row of numbers per (round, level).
    `totals` (if given) receives the generation counters summed over the rounds."""
    from robustclap.pipeline.level_sampling import level_plans
    from robustclap.pipeline.runner import run_generate
    from robustclap.quality.gate import run_gate

    n_cands = {lv: p.candidates for lv, p in
               level_plans(cfg, model.reference if model else cfg.model).items()}

    gen_dir, gate_dir = workdir / name / "gen", workdir / name / "gate"
    shutil.rmtree(workdir / name, ignore_errors=True)
    calls = dict.fromkeys(cfg.levels, 0)
    tokens = dict.fromkeys(cfg.levels, 0)
    out: list[dict] = []
    regen = None
    for r in range(rounds):
        stats = run_generate(csv, gen_dir, cfg, backend=backend, regenerate=regen, round_=r,
                             model=model)
        if totals is not None:
            for k in ("llm_calls", "completion_tokens", "prompt_tokens", "llm_seconds"):
                totals[k] = totals.get(k, 0) + stats.counts[k]
        cands = _candidates(gen_dir)
        for lv in cfg.levels:
            lo, hi = r * n_cands[lv], (r + 1) * n_cands[lv]
            sub = cands[(cands["level"] == lv) & (cands["candidate"] >= lo)
                        & (cands["candidate"] < hi)]
            calls[lv] += int((sub["attempt"] + 1).sum())
            tokens[lv] += int(sub["completion_tokens"].sum())
        started = time.perf_counter()
        result = run_gate(gen_dir, gate_dir, gate_cfg, cache_path=workdir / "scores.sqlite")
        gate_s = time.perf_counter() - started
        acc = _accepted(gate_dir)
        for lv in cfg.levels:
            a = acc[acc["level"] == lv]
            n_acc = len(a)
            out.append({
                "variant": name, "round": r, "level": lv,
                "captions_with_accepted": round(a["caption_id"].nunique() / n_captions, 3),
                "accepted": n_acc, "llm_calls": calls[lv], "completion_tokens": tokens[lv],
                "calls_per_accepted": round(calls[lv] / n_acc, 2) if n_acc else None,
                "tokens_per_accepted": round(tokens[lv] / n_acc, 1) if n_acc else None,
                "gate_s": round(gate_s, 1),
            })
        if result.counts["regenerate"] == 0:
            break
        regen = gate_dir / layout.REGENERATE_FILE
    return out, _accepted(gate_dir).assign(variant=name)


def _candidates(gen_dir: Path) -> pd.DataFrame:
    from robustclap.contracts.schema import CANDIDATES, read_dir

    if not (gen_dir / layout.CANDIDATES_DIR).is_dir():
        return pd.DataFrame(columns=["level", "candidate", "attempt", "completion_tokens"])
    return read_dir(CANDIDATES, gen_dir / layout.CANDIDATES_DIR).to_pandas()


def markdown(rows: list[dict]) -> str:
    cols = ["source", "variant", "level", "round", "captions_with_accepted", "accepted",
            "llm_calls", "calls_per_accepted", "completion_tokens", "tokens_per_accepted"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(c) is None else str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def run(workdir: Path, **opts) -> Result:
    """The packaged models side by side (yield_models.py); `--prompt-study`: the v1 prompts
    against the shipped ones on one model (issue 14)."""
    if not opts.get("prompt_study"):
        from robustclap.bench.benchmarks.yield_models import run as compare_models

        return compare_models(workdir, **opts)
    return prompt_study(workdir, **opts)


def prompt_study(workdir: Path, **opts) -> Result:
    from robustclap.bench.common import inprocess_engine
    from robustclap.llm.model_ref import resolve_model
    from robustclap.llm.packaged import DEFAULT_PACKAGED
    from robustclap.llm.types import Sampling
    from robustclap.pipeline.config import GenerateConfig
    from robustclap.quality.config import load_config as load_gate_config

    n = opts.get("captions") or 40
    rounds = int(opts.get("rounds") or 3)
    model = opts.get("model") or DEFAULT_PACKAGED
    temperature = float(opts.get("temperature") or 0.8)
    ref = resolve_model(model)
    backend, start_s = inprocess_engine({**opts, "model": ref.name}, workdir)
    gate_cfg = load_gate_config(None)
    res = Result("yield", "yield: accepted paraphrases per LLM call (packaged model)",
                 params={"captions_per_source": n, "rounds": rounds, "model": model,
                         "temperature": temperature, "candidates": 2,
                         "gate_version": gate_cfg.version})
    res.metrics["engine_start_s (excluded)"] = start_s

    def cfg(variant_prompts: Path | None, feedback: bool, temp: float = temperature,
            level2_source: str = "original") -> GenerateConfig:
        return GenerateConfig(
            model=model, backend="inprocess", candidates=2, feedback=feedback,
            prompt_dir=str(variant_prompts) if variant_prompts else None,
            level2_source=level2_source, cache_dir=str(workdir / "llm-cache"),
            sampling=Sampling(temperature=temp, top_p=0.95, max_tokens=96), shard_size=64,
        )

    variants = {"before": cfg(PROMPTS_V1, False), "after": cfg(None, True),
                "after_no_feedback": cfg(None, False)}
    if opts.get("level2_source"):
        variants["after_l2_from_l1"] = cfg(None, True, level2_source="level1")
    rows: list[dict] = []
    accepted: list[pd.DataFrame] = []
    for source, csv in sources(n, workdir).items():
        count = len(pd.read_csv(csv))
        for name, c in variants.items():
            got, acc = run_variant(f"{source}-{name}", csv, workdir, backend, c, gate_cfg,
                                   rounds, count, ref)
            rows += [{"source": source, **r, "variant": name} for r in got]
            accepted.append(acc.assign(source=source, variant=name))
        for temp in opts.get("temperatures") or []:
            got, _ = run_variant(f"{source}-t{temp}", csv, workdir, backend,
                                 cfg(None, False, float(temp)), gate_cfg, 1, count, ref)
            rows += [{"source": source, **r, "variant": f"after t={temp} (1 round)"} for r in got]
    res.metrics["table"] = rows
    res.notes.append("\n" + markdown(rows))
    out_dir = Path(opts.get("out") or workdir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    sample = out_dir / f"yield-accepted-{stamp}.csv"
    cols = ["source", "variant", "level", "caption", "paraphrase"]
    pd.concat(accepted)[cols].to_csv(sample, index=False)
    res.notes.append(f"accepted rows for review: {sample}")
    last = {(r["source"], r["variant"], r["level"]): r for r in rows}
    for (source, variant, level), r in sorted(last.items()):
        if variant == "after":
            goal = 0.60 if level == 1 else 0.25
            res.goals.append(Goal(f"{source} level {level}: captions with an accepted "
                                  f"paraphrase after {r['round'] + 1} rounds",
                                  r["captions_with_accepted"], goal, at_least=True))
    return res
