"""method: does multi-view training shrink the paraphrase drop? (issues 18 and 24, a CPU
stand-in)

A scene CLAP (bench/scenes) trained several ways with the same model, steps, batches and
seeds: plain CLAP loss (λ = 0), multi-view (λ1 = λ2 = 1), level 1 only, level 2 only, multi-view
on ungated views; text->audio R@1, R@5, R@10, mAP@10 on the test scenes for original captions,
gated LLM paraphrases and held-out hand-written rewordings; relative drop and zero-shot ESC-50
accuracy, mean ± std over seeds. `--clap two-tower` (default): pretrained aisfx audio CNN
(frozen, embeddings cached) + all-MiniLM-L6-v2 text tower (fine-tuned) -> method.{md,png,json};
`--clap tiny`: the tiny ClapModel from scratch of issue 18 -> method-tiny.*.

The scenes (runs/scenes) and their published paraphrase corpus are built on first use
(`robustclap scenes`); later runs reuse both, and the log-mel features cached beside them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from robustclap.bench.common import REPO, SHARED_DATA
from robustclap.bench.harness import Goal, Result
from robustclap.bench.scenes.experiment import (
    BEFORE,
    KINDS,
    METRICS,
    MULTI,
    PLAIN,
    SETTINGS,
    UNGATED,
)

SIZES = {  # train scenes used, test scenes used, steps (tiny, two-tower), batch, seeds
    "smoke": {"max_train": 64, "max_test": 32, "steps": {"tiny": 2, "two-tower": 2},
              "batch_size": 8, "seeds": [0], "max_zero_shot": 24},
    "default": {"max_train": None, "max_test": None,
                "steps": {"tiny": 200, "two-tower": 300}, "batch_size": 32, "seeds": [0, 1, 2]},
    "large": {"max_train": None, "max_test": None, "steps": {"tiny": 600, "two-tower": 400},
              "batch_size": 32, "seeds": [0, 1, 2, 3, 4]},
}
# the two-tower model: new heads at lr 1e-3, MiniLM's top two layers at 5e-5, its embeddings
# and first four layers frozen (1.6 s a step of 32 on one busy core instead of 3.4 s)
FIT = {"tiny": {"lr": 1e-3},
       "two-tower": {"lr": 1e-3, "pretrained_lr_scale": 0.05, "frozen_text_layers": 4}}
GOAL_KIND = "llm"  # the drop the goal is judged on: gated LLM paraphrases, levels pooled
MIN_ORIGINAL_R1 = 0.25  # issue 24: the plain two-tower model on the 300 test scenes
MIN_LLM_QUERIES = 100


def _pm(stat: tuple[float | None, float | None] | None, pct: bool = False) -> str:
    if stat is None or stat[0] is None:
        return "–"
    mean, std = stat
    k = 100 if pct else 1
    fmt = "{:.1f}" if pct else "{:.3f}"
    return f"{fmt.format(mean * k)} ± {fmt.format(std * k)}" + ("%" if pct else "")


MODEL_TEXT = {
    "tiny": "a tiny CLAP (transformers' ClapModel at tiny sizes, trained from scratch)",
    "two-tower": "a two-tower CLAP from packaged pretrained encoders (aisfx audio CNN, frozen, "
                 "its embeddings cached; all-MiniLM-L6-v2 text tower fine-tuned; new projection "
                 "heads and temperature)",
}


def markdown(summary: dict, stats: dict, params: dict) -> str:
    model = MODEL_TEXT[params.get("clap", "tiny")]
    cols = " | ".join(METRICS)
    lines = [
        "# method: plain CLAP loss vs multi-view (sound scenes, CPU stand-in)", "",
        f"A CPU stand-in, not the paper's setting: {model} on composed ESC-50/BigSoundBank "
        f"scenes. Parameters: {', '.join(f'{k}={v}' for k, v in params.items())}.", "",
        f"Data: {json.dumps(stats)}", "",
        "## Text→audio retrieval (mean ± std over seeds)", "",
        f"| setting | query kind | {cols} |", "|---|---|" + "---|" * len(METRICS),
    ]
    for name, entry in summary.items():
        for kind in KINDS:
            r = entry["retrieval"].get(kind)
            if r:
                lines.append(f"| {name} | {kind} | " + " | ".join(_pm(r[m]) for m in METRICS)
                             + " |")
    if any("zero_shot" in e for e in summary.values()):
        lines += ["", "## Zero-shot ESC-50 (class-name prompts, top-1; mean ± std over seeds)",
                  "", "| setting | all shared clips | clips of test-side recordings |",
                  "|---|---|---|"]
        for name, entry in summary.items():
            z = entry.get("zero_shot")
            if z:
                lines.append(f"| {name} | {_pm(z['top1_all'])} | "
                             f"{_pm(z['top1_test_sources'])} |")
    lines += ["", "## Relative paraphrase drop: (original − paraphrase) / original", "",
              "| setting | query kind | " + " | ".join(f"{m} drop" for m in METRICS) + " |",
              "|---|---|" + "---|" * len(METRICS)]
    for name, entry in summary.items():
        for kind in KINDS[1:]:
            d = entry["drop"].get(kind)
            if d:
                lines.append(f"| {name} | {kind} | " + " | ".join(_pm(d[m], True)
                                                                  for m in METRICS) + " |")
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> Path:
    """Relative R@1 drop per setting (LLM paraphrases, held-out rewordings), original R@1 and
    zero-shot accuracy (when measured), mean and std over seeds; an undefined drop is marked
    n/a, never drawn as 0."""
    import matplotlib

    matplotlib.use("Agg")
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    kinds = [("llm", "gated LLM paraphrases"), ("reworded", "held-out rewordings")]
    names = list(summary)
    zs = [n for n in names if summary[n].get("zero_shot")]
    panels = 3 if zs else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.4))
    width = 0.8 / len(kinds)
    ax = axes[0]
    for j, (kind, _) in enumerate(kinds):
        for i, n in enumerate(names):
            x = i + (j - (len(kinds) - 1) / 2) * width
            mean, std = summary[n]["drop"].get(kind, {}).get("R@1") or (None, None)
            if mean is None:
                ax.text(x, 2, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
                continue
            ax.bar(x, 100 * mean, width, yerr=100 * std, capsize=3, color=f"C{j}")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_title("relative R@1 drop, (original − paraphrase) / original", fontsize=9)
    ax.set_ylabel("%")
    ax.legend(handles=[Patch(color=f"C{j}", label=label) for j, (_, label) in enumerate(kinds)],
              fontsize=7)
    ax = axes[1]
    for i, n in enumerate(names):
        mean, std = summary[n]["retrieval"]["original"]["R@1"]
        ax.bar(i, mean, 0.6, yerr=std, capsize=3, color="C2")
    ax.set_title("original-caption R@1 (300 test scenes)", fontsize=9)
    if zs:
        ax = axes[2]
        for i, n in enumerate(names):
            z = summary[n].get("zero_shot")
            if z:
                for j, key in enumerate(("top1_all", "top1_test_sources")):
                    mean, std = z[key]
                    ax.bar(i + (j - 0.5) * 0.4, mean, 0.4, yerr=std, capsize=3,
                           color=f"C{3 + j}")
        ax.set_title("zero-shot ESC-50 top-1", fontsize=9)
        ax.legend(handles=[Patch(color="C3", label="all shared clips"),
                           Patch(color="C4", label="test-side recordings")], fontsize=7)
    for ax in axes:
        ax.set_xticks(range(len(names)), [textwrap.fill(n, 14) for n in names], fontsize=6)
    fig.suptitle("Multi-view vs plain CLAP loss on sound scenes (mean ± std over seeds; "
                 "CPU stand-in)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _drop_ratio(summary: dict, setting: str, kind: str) -> float | None:
    dp = summary[PLAIN]["drop"].get(kind, {}).get("R@1")
    dm = summary[setting]["drop"].get(kind, {}).get("R@1")
    if not dp or not dm or dp[0] is None or dm[0] is None or dp[0] <= 0:
        return None
    return dm[0] / dp[0]


def goals(summary: dict, stats: dict | None = None, clap: str = "tiny") -> list[Goal]:
    """The issue's goal for multi-view (judged on the gated LLM paraphrases), the same ratio
    on the held-out rewordings, and both for the ungated ablation when it ran; for the
    two-tower model also issue 24's floor on plain original R@1, the number of LLM queries
    and zero-shot accuracy not lower than plain's beyond one seed std."""
    out = []
    if clap == "two-tower":
        out.append(Goal("plain CLAP original R@1 (300 test scenes, chance 0.003)",
                        summary[PLAIN]["retrieval"]["original"]["R@1"][0], MIN_ORIGINAL_R1,
                        at_least=True))
        if stats is not None:
            out.append(Goal("gated LLM-paraphrase test queries (levels 1+2)",
                            stats["queries"].get(GOAL_KIND, 0), MIN_LLM_QUERIES, at_least=True))
    for setting in [MULTI] + [n for n in UNGATED if n in summary]:
        tag = "" if setting == MULTI else f"ablation {setting}: "
        for kind, what in ((GOAL_KIND, "LLM paraphrases"), ("reworded", "held-out rewordings")):
            out.append(Goal(f"{tag}multi-view / plain relative R@1 drop ({what})",
                            _drop_ratio(summary, setting, kind), 0.5))
        op = summary[PLAIN]["retrieval"]["original"]["R@1"]
        om = summary[setting]["retrieval"]["original"]["R@1"]
        spread = max(op[1] or 0.0, om[1] or 0.0)
        out.append(Goal(f"{tag}original R@1: multi-view − plain + seeds' std (not lower)",
                        om[0] - op[0] + spread, 0.0, at_least=True))
        zp, zm = summary[PLAIN].get("zero_shot"), summary[setting].get("zero_shot")
        if zp and zm:
            a, b = zp["top1_all"], zm["top1_all"]
            out.append(Goal(f"{tag}zero-shot ESC-50: multi-view − plain + seeds' std "
                            "(not lower)", b[0] - a[0] + max(a[1] or 0.0, b[1] or 0.0), 0.0,
                            at_least=True))
    return out


def write_outputs(saved: dict, results_dir: Path, stem: str) -> Path:
    """method.json (everything), method.md (goals + tables), method.png, from one dict."""
    results_dir.mkdir(parents=True, exist_ok=True)
    md = markdown(saved["summary"], saved["data"], saved["params"])
    lines = ["## Goals", "", "| goal | measured | limit | met |", "|---|---|---|---|"]
    for g in saved["goals"]:
        op = "≥" if g["at_least"] else "≤"
        value = "undefined" if g["value"] is None else f"{g['value']:.3f}"
        met = {True: "yes", False: "no", None: "not measurable"}[g["met"]]
        lines.append(f"| {g['name']} | {value} | {op} {g['limit']} | {met} |")
    head, _, rest = md.partition("## Text→audio retrieval")
    md = head + "\n".join(lines) + "\n\n## Text→audio retrieval" + rest
    (results_dir / f"{stem}.md").write_text(md + f"\n![drop per setting]({stem}.png)\n")
    plot(saved["summary"], results_dir / f"{stem}.png")
    (results_dir / f"{stem}.json").write_text(json.dumps(saved, indent=2, default=str))
    return results_dir / f"{stem}.md"


def run(workdir: Path, **opts) -> Result:
    import os

    import torch

    from robustclap.bench.scenes.experiment import compare, prepare
    from robustclap.bench.scenes.queries import corpus_identity, published_corpus
    from robustclap.training.fit_features import FitConfig

    size = SIZES[opts.get("size") or "default"]
    clap = opts.get("clap") or "two-tower"
    if os.getloadavg()[0] >= (os.cpu_count() or 1):
        # a busy machine: OpenMP's second thread spin-waits against the other processes
        # (measured beside vLLM engines: 2.8 s a step with two threads, 0.5 s with one)
        torch.set_num_threads(1)
    scenes_dir = Path(opts.get("scenes_dir") or REPO / "runs" / "scenes")
    results_dir = Path(opts.get("results_dir") or REPO / "bench" / "results")
    data_dir = Path(opts.get("data_dir") or SHARED_DATA)
    res = Result("method", "method: plain CLAP loss vs multi-view on sound scenes (CPU)")
    t0 = time.perf_counter()
    if published_corpus(scenes_dir) is None:
        from robustclap.bench.scenes.build import make_scenes

        make_scenes(data_dir, scenes_dir, paraphrase=True)
        res.metrics["scenes_and_corpus_built_s"] = round(time.perf_counter() - t0, 1)
    t1 = time.perf_counter()
    prep = prepare(scenes_dir, data_dir, max_train=size["max_train"], max_test=size["max_test"],
                   clap=clap, max_zero_shot=size.get("max_zero_shot"))
    res.metrics["prepare_s"] = round(time.perf_counter() - t1, 1)
    cfg = FitConfig(steps=size["steps"][clap], batch_size=size["batch_size"], **FIT[clap])
    res.params = {"clap": clap, "steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr,
                  "pretrained_lr_scale": cfg.pretrained_lr_scale,
                  "frozen_text_layers": cfg.frozen_text_layers,
                  "seeds": size["seeds"], "torch_threads": torch.get_num_threads(),
                  "scenes": str(scenes_dir), "corpus": corpus_identity(scenes_dir)}
    settings = {**(BEFORE if clap == "two-tower" else {}), **SETTINGS,
                **(UNGATED if size.get("ungated", True) else {})}
    def log(line: str) -> None:  # each run as it ends (a default run takes most of an hour)
        res.notes.append(line)
        print(f"[method] {line}", file=sys.stderr, flush=True)

    runs, summary = compare(settings, prep, cfg, size["seeds"], log=log)
    res.metrics["data"] = prep.stats
    res.metrics["summary"] = summary
    res.metrics["seconds_per_run"] = {n: [r["seconds"] for r in rs] for n, rs in runs.items()}
    res.goals = goals(summary, prep.stats, clap)
    stem = "method" if clap == "two-tower" else "method-tiny"
    if (opts.get("size") or "default") != "default":
        stem += f"-{opts['size']}"
    saved = {"params": res.params, "data": prep.stats, "summary": summary, "runs": runs,
             "goals": [g.to_dict() for g in res.goals]}
    res.metrics["table"] = str(write_outputs(saved, results_dir, stem))
    return res
