"""CLI commands of the quality stage (gate, calibrate); registered on the main app.

Heavy libraries (torch, spaCy, DuckDB) are imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _set_threads(threads: int | None) -> None:
    """CPU threads for the encoders; 1 is faster than 2 when other jobs share the cores."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


_THREADS_HELP = "torch CPU threads for the encoders (default: torch's choice)"


def gate(
    input: Annotated[Path, typer.Option("--input", "-i",
                                        help="generation folder (with candidates/*.parquet)")],
    out: Annotated[Path, typer.Option(help="corpus folder: accepted, rejected, scores, "
                                           "regenerate .parquet, summary.json/.md")],
    config: Annotated[Path | None, typer.Option(help="gate config YAML (default: the shipped "
                                                     "quality/gates.yaml)")] = None,
    cache: Annotated[Path | None, typer.Option(help="score cache file (default: "
                                                    "OUT/score_cache.sqlite)")] = None,
    batch_rows: Annotated[int, typer.Option(min=1, help="rows per streamed batch")] = 1024,
    memory_limit: Annotated[str, typer.Option(help="DuckDB memory limit for sorting "
                                                   "candidates")] = "1GB",
    threads: Annotated[int | None, typer.Option(min=1, help=_THREADS_HELP)] = None,
) -> None:
    """Score, gate, rank and select paraphrase candidates into a gated corpus.

    Writes OUT/accepted.parquet (the corpus training reads), OUT/rejected.parquet (every other
    candidate with its reason), OUT/scores.parquet, OUT/regenerate.parquet (caption, level
    pairs with no accepted candidate: pass it to `robustclap generate --regenerate`) and
    OUT/summary.json / summary.md. Scores are cached, so re-gating with new thresholds
    recomputes nothing.
    """
    from quality.config import load_config
    from quality.gate import run_gate

    _set_threads(threads)
    result = run_gate(input, out, load_config(config), cache_path=cache, batch_rows=batch_rows,
                      memory_limit=memory_limit, log=_say)
    typer.echo(json.dumps({"gate_version": result.gate_version, **result.summary["counts"]},
                          indent=2))


def calibrate(
    pairs: Annotated[Path, typer.Option(help="labelled pair file")],
    format: Annotated[str, typer.Option(help="stsb | mrpc | paws | clotho")],
    config: Annotated[Path | None, typer.Option(help="gate config YAML (default: the shipped "
                                                     "quality/gates.yaml)")] = None,
    genre: Annotated[str, typer.Option(help="STS-B genre to keep ('all' keeps every "
                                            "genre)")] = "main-captions",
    limit: Annotated[int | None, typer.Option(min=2, help="score a seeded random subset of "
                                                         "this many pairs")] = None,
    cache: Annotated[Path | None, typer.Option(help="score cache file (default: none, "
                                                    "in memory)")] = None,
    out: Annotated[Path | None, typer.Option(help="write the report as JSON here")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help=_THREADS_HELP)] = None,
) -> None:
    """Score labelled paraphrase pairs and report how well the gate separates them.

    Reports ROC-AUC of each score and of the combined score, precision/recall of the gate at
    the configured thresholds, and suggested thresholds. STS-B positives are pairs scored >= calibration.stsb_positive_min (default 4 of 5);
    Clotho positives are two captions of one clip, negatives captions of different clips.
    """
    from quality.cache import ScoreCache
    from quality.calibrate import calibrate as run_calibrate
    from quality.calibrate import markdown
    from quality.config import load_config
    from quality.scoring import Scoring

    _set_threads(threads)
    cfg = load_config(config)
    with ScoreCache(cache) as score_cache:
        report = run_calibrate(pairs, format, cfg, Scoring(cfg, score_cache),
                               genre=None if genre == "all" else genre, limit=limit, log=_say)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    typer.echo(markdown(report))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
    app.command("gate")(gate)
    app.command("calibrate")(calibrate)
