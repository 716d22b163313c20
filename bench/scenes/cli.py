"""`robustclap scenes`: compose the scene set, then paraphrase its captions with the toolkit's
own paraphrase flow (packaged model, gates, publish)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from robustclap.bench.scenes.build import DEFAULT_MODEL, make_scenes

DEFAULT_DATA = Path(os.environ.get("ROBUSTCLAP_SHARED_DATA", "../shared/data"))


def scenes_cmd(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("runs/scenes"),
    data: Annotated[Path, typer.Option(help="shared data folder (esc50/, bigsoundbank/)")] = DEFAULT_DATA,
    train: Annotated[int, typer.Option(help="train scenes")] = 3000,
    test: Annotated[int, typer.Option(help="test scenes (distinct captions)")] = 300,
    paraphrase_train: Annotated[int, typer.Option(help="distinct train captions the LLM paraphrases (every test caption is paraphrased)")] = 100,
    seed: Annotated[int, typer.Option()] = 0,
    audio: Annotated[bool, typer.Option("--audio", help="also write audio/<scene>.flac (16 kHz) for robustclap train/evaluate")] = False,
    paraphrase: Annotated[bool, typer.Option("--paraphrase/--no-paraphrase", help="run the paraphrase flow on the chosen captions")] = True,
    model: Annotated[str, typer.Option(help="LLM for the paraphrases")] = DEFAULT_MODEL,
    candidates: Annotated[int, typer.Option(min=1, help="candidates per caption and level (a packaged model's greedy level asks one)")] = 2,
    rounds: Annotated[int, typer.Option(min=0, help="regeneration rounds of the paraphrase flow")] = 2,
) -> None:
    """Compose sound scenes (1-3 ESC-50/BigSoundBank events, counts, sequence/overlap) with
    exact captions and held-out rewordings; paraphrase and publish their captions."""
    typer.echo(json.dumps(make_scenes(data, out, train, test, paraphrase_train, seed,
                                      audio, paraphrase, model, candidates, rounds), indent=2))


def register(app: typer.Typer) -> None:
    app.command("scenes")(scenes_cmd)
