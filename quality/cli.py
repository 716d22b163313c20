"""CLI commands of the quality stage (gate, calibrate); registered on the main app.

Heavy libraries (torch, SciPy and scikit-learn, the OpenAI client) are imported inside the
commands, each with the reason, so `--help` stays fast.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
import yaml

from robustclap.cli_options import refuse_replace
from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.progress import stage_progress
from robustclap.llm.model_ref import resolve_llm_model
from robustclap.llm.settings import LLMSettings
from robustclap.quality.cache import ScoreCache
from robustclap.quality.judge import open_judge

if TYPE_CHECKING:
    from robustclap.quality.config import GateConfig


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _set_threads(threads: int | None) -> None:
    """CPU threads for the encoders; 1 is faster than 2 when other jobs share the cores."""
    if threads is not None:
        import torch  # lazy: seconds to load, and only when --threads is given

        torch.set_num_threads(threads)


_THREADS_HELP = "torch CPU threads for the encoders (default: torch's choice)"


def _cache_file(cache_dir: Path | None) -> Path | None:
    """--cache-dir names a folder, as on `generate`; the file in it has a fixed name."""
    if cache_dir is None:
        return None
    cache_dir.mkdir(parents=True, exist_ok=True)
    return cache_dir / layout.SCORE_CACHE_FILE


def gate(
    input: Annotated[Path, typer.Option("--input", "-i",
                                        help="generation folder (with candidates/*.parquet)")],
    out: Annotated[Path, typer.Option(help="corpus folder: accepted, rejected, scores, "
                                           "regenerate .parquet, summary.json/.md")],
    config: Annotated[Path | None, typer.Option(help="gate config YAML (default: the shipped "
                                                     "quality/gates.yaml)")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="folder of the score cache "
                                                        "(score_cache.sqlite; default: OUT)")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="rows per streamed batch")] = 1024,
    memory_limit: Annotated[str, typer.Option(help="DuckDB memory limit for sorting "
                                                   "candidates")] = "1GB",
    threads: Annotated[int | None, typer.Option(min=1, help=_THREADS_HELP)] = None,
    judge_model: Annotated[str | None, typer.Option(
        help="switch the LLM judge gate on with this model (in-process vLLM); its answers are "
             "cached in OUT/judge_cache.sqlite")] = None,
    judge_url: Annotated[str | None, typer.Option(
        help="ask the judge model at this OpenAI-compatible endpoint (e.g. a run's vllm "
             "serve) instead of starting an in-process vLLM")] = None,
) -> None:
    """Score, gate, rank and select paraphrase candidates into a gated corpus.

    Writes OUT/accepted.parquet (the corpus training reads), OUT/rejected.parquet (every other
    candidate with its reason), OUT/scores.parquet, OUT/regenerate.parquet (caption, level
    pairs with no accepted candidate: pass it to `robustclap generate --regenerate`) and
    OUT/summary.json / summary.md. Scores are cached, so re-gating with new thresholds
    recomputes nothing.
    """
    # lazy: the gate config loads SciPy (the learned gate's models), half a second
    from robustclap.quality.config import load_config
    from robustclap.quality.gate import run_gate

    _set_threads(threads)
    cfg = _with_judge(load_config(config), judge_model)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RobustclapError(f"--out {out}: cannot create the corpus folder ({exc})") from exc
    with _open_judge(cfg, out / layout.JUDGE_CACHE_FILE, judge_url) as judge:
        result = run_gate(input, out, cfg, cache_path=_cache_file(cache_dir), batch_rows=batch_size,
                          memory_limit=memory_limit, log=_say, judge=judge,
                          progress=stage_progress)
    typer.echo(json.dumps({"gate_version": result.extra["gate_version"],
                           "candidates": result.rows_in, "accepted": result.rows_out,
                           "rejected": result.rejected, **result.counts}, indent=2))


def calibrate(
    pairs: Annotated[list[Path], typer.Option(
        help="labelled pair file; with --format candidates it may be given once per labelled "
             "set (one generator's candidates each)")],
    format: Annotated[str, typer.Option(help="stsb | mrpc | paws | clotho | candidates "
                                             "(JSONL: caption, level, candidate, meaning_ok, "
                                             "level_ok)")],
    config: Annotated[Path | None, typer.Option(help="gate config YAML (default: the shipped "
                                                     "quality/gates.yaml)")] = None,
    genre: Annotated[str, typer.Option(help="STS-B genre to keep ('all' keeps every "
                                            "genre)")] = "main-captions",
    limit: Annotated[int | None, typer.Option(min=2, help="score a seeded random subset of "
                                                         "this many pairs")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="folder of the score cache "
                                                        "(score_cache.sqlite; default: none, "
                                                        "in memory)")] = None,
    out: Annotated[Path | None, typer.Option(help="write the report as JSON here")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing --out or --fit "
                                                 "file")] = False,
    threads: Annotated[int | None, typer.Option(min=1, help=_THREADS_HELP)] = None,
    judge_model: Annotated[str | None, typer.Option(
        help="candidates only: switch the LLM judge gate on with this model (in-process vLLM; "
             "e.g. packaged:smollm2-135m-instruct)")] = None,
    fit: Annotated[Path | None, typer.Option(
        "--fit", help="candidates only: fit the learned gate (meaning and wording models, "
                      "thresholds for the config's target precision) on every --pairs set "
                      "and write the new gate config (a new version) here")] = None,
    cv: Annotated[bool, typer.Option(
        "--cv", help="candidates only: out-of-sample figures of that fitting procedure: "
                     "cross-validation grouped by caption, and fit-on-the-other-sets / "
                     "test-on-this-one for each --pairs set")] = False,
) -> None:
    """Score labelled paraphrase pairs and report how well the gate separates them.

    With --format candidates the whole gate runs on hand-labelled LLM candidates and the report
    gives, per level, accepted, precision of meaning_ok among them, recall of good candidates,
    wrong-meaning accepted, the gate that caught each wrong one and every false accept.

    Reports ROC-AUC of each score and of the combined score, precision/recall of the gate at
    the configured thresholds, and suggested thresholds. STS-B positives are pairs scored >= calibration.stsb_positive_min (default 4 of 5);
    Clotho positives are two captions of one clip, negatives captions of different clips.
    """
    # lazy: scikit-learn (metrics) and SciPy (the gate config) load for a second
    from robustclap.quality.calibrate import evaluate, load_pairs, markdown, score_pairs
    from robustclap.quality.config import load_config
    from robustclap.quality.scoring import Scoring

    refuse_replace(out, "--out", overwrite)
    refuse_replace(fit, "--fit", overwrite)
    _set_threads(threads)
    cache = _cache_file(cache_dir)
    cfg = load_config(config)
    if format == "candidates":
        _calibrate_candidates(pairs, _with_judge(cfg, judge_model), cache, out, fit, cv)
        return
    if fit is not None or judge_model is not None or cv:
        raise RobustclapError("--fit, --cv and --judge-model need --format candidates "
                              "(labelled LLM candidates)")
    if len(pairs) != 1:
        raise RobustclapError(f"--format {format} reads one --pairs file, got {len(pairs)}")
    pairs_file = pairs[0]
    pairset = load_pairs(pairs_file, format, cfg, genre=None if genre == "all" else genre,
                         limit=limit)
    if pairset.skipped:
        _say(f"{pairs_file}: skipped {len(pairset.skipped)} malformed row(s) (listed in the "
             "report)")
    with (ScoreCache(cache) as score_cache,
          stage_progress("calibrate", len(pairset.pairs), "pairs") as advance):
        scores = score_pairs(pairset, Scoring(cfg, score_cache), advance=advance)
    report = evaluate(pairset, scores, cfg)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    typer.echo(markdown(report))


def _with_judge(cfg: GateConfig, model: str | None) -> GateConfig:
    """The config with the LLM judge switched on for `model` (unchanged when None)."""
    if model is None:
        return cfg
    return cfg.model_copy(update={"judge": cfg.judge.model_copy(
        update={"enabled": True, "model": model})})


def _open_judge(cfg: GateConfig, cache_path: Path, url: str | None = None) -> Any:
    """When the config switches the judge on: a served judge at `url`, else an in-process one;
    otherwise a no-op context."""
    if not cfg.judge.enabled:
        if url is not None:
            raise RobustclapError("--judge-url needs the judge on: --judge-model MODEL (the "
                                  "endpoint's model name) or judge.enabled in the gate config")
        return nullcontext(None)
    if not cfg.judge.model:
        raise RobustclapError("judge.enabled needs judge.model in the gate config or "
                              "--judge-model MODEL")
    if url is not None:  # as the served judge always asked: no key ("EMPTY"), 8 at a time
        settings = LLMSettings(model=cfg.judge.model, base_url=url, api_key="EMPTY",
                               concurrency=8)
    else:
        settings = LLMSettings(model=cfg.judge.model, backend="inprocess")
    # resolved here: an offline machine fails before anything starts. A served model is named
    # "MODEL@served", the identity `robustclap run --base-url` gives the same endpoint's model
    return open_judge(resolve_llm_model(settings), cache_path, cfg.judge.max_tokens,
                      cfg.judge.seed, settings=settings)


def _calibrate_candidates(pairs: list[Path], cfg: GateConfig, cache: Path | None,
                          out: Path | None, fit_out: Path | None, cv: bool) -> None:
    # lazy: scikit-learn (metrics, the learned gate's fit) and SciPy load for a second
    from robustclap.quality import calibrate_candidates as cc
    from robustclap.quality import learned_fit as lf
    from robustclap.quality.scoring import Scoring

    rows: list[cc.Labelled] = []
    skipped: list[dict[str, Any]] = []
    for path in pairs:
        got, bad = cc.load_labelled(path)
        rows += got
        skipped += [{"file": str(path), **b} for b in bad]
    if len({p.stem for p in pairs}) != len(pairs):
        raise RobustclapError("--pairs files need different names: a labelled set is "
                              "named by its file name")
    source = " + ".join(str(p) for p in pairs)
    with (ScoreCache(cache) as score_cache,
          stage_progress("calibrate", len(rows), "candidates") as advance):
        scores = cc.score_rows(rows, Scoring(cfg, score_cache), advance=advance)
    judge_cache = (cache.parent if cache else Path(".")) / layout.JUDGE_CACHE_FILE
    with _open_judge(cfg, judge_cache) as judge:
        report = cc.evaluate(rows, scores, cfg, source, skipped, judge)
    table = None
    if fit_out is not None or cv:
        extra = cc.mismatched(rows, cfg.calibration.seed)
        with ScoreCache(cache) as score_cache:
            extra_scores = cc.score_rows(extra, Scoring(cfg, score_cache))
        table = lf.table(rows + extra, scores + extra_scores, cfg)
    if cv and table is not None:
        report["out_of_sample"] = lf.cross_validate(table, cfg)
    if fit_out is not None and table is not None:
        learned, chosen = lf.fit_learned(table, np.arange(len(table.rows)), cfg)
        fitted = lf.with_learned(cfg, learned)
        fit_out.parent.mkdir(parents=True, exist_ok=True)
        fit_out.write_text(
            f"# gate version {fitted.version}, fitted by `robustclap calibrate --fit` on "
            f"{', '.join(p.name for p in pairs)} (target precision "
            f"{cfg.calibration.target_precision}, of good "
            f"{cfg.calibration.target_good_precision})\n"
            + yaml.safe_dump(fitted.model_dump(mode="json"), sort_keys=False),
            encoding="utf-8")
        report["fit"] = {"config": str(fit_out), "gate_version": fitted.version, **chosen}
        report["fitted"] = cc.evaluate(rows, scores, fitted, source, skipped)
        _say(f"wrote gate config {fitted.version} to {fit_out}: {json.dumps(chosen)}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    typer.echo(cc.markdown(report))
    if "out_of_sample" in report:
        typer.echo("## Out of sample (the fitting procedure; in-sample rows last)\n\n"
                   + lf.markdown(report["out_of_sample"]))
    if "fitted" in report:
        typer.echo("# After --fit (in sample)\n\n" + cc.markdown(report["fitted"]))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
    app.command("gate")(gate)
    app.command("calibrate")(calibrate)
