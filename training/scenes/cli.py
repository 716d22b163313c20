"""`robustclap scenes`: compose the scene set, then paraphrase its captions with the toolkit's
own paraphrase flow (packaged model, gates, publish)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from robustclap.training.scenes.build import DEFAULT_MODEL

DEFAULT_DATA = Path(os.environ.get("ROBUSTCLAP_SHARED_DATA", "../shared/data"))


def make_scenes(data_dir: Path, out: Path, n_train: int = 3000, n_test: int = 300,
                n_paraphrase: int = 400, seed: int = 0, audio: bool = False,
                paraphrase: bool = True, model: str = DEFAULT_MODEL, candidates: int = 1) -> dict:
    """Build OUT/ and (with `paraphrase`) publish OUT/corpus/scenes/vN; returns the counts."""
    from robustclap.training.scenes.build import build_scenes

    built = build_scenes(data_dir, out, n_train, n_test, n_paraphrase, seed, audio, model,
                         candidates)
    summary: dict = {"out": str(out), **built.counts}
    if paraphrase:
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        from robustclap.flows.config import load_run_config
        from robustclap.flows.paraphrase import run_paraphrase, summary_line
        from robustclap.pipeline.llm.model_ref import resolve_generate_model

        # once, here: offline and not packaged is one clear message before Prefect starts
        ref = resolve_generate_model(load_run_config(built.run_config).generate)
        published = run_paraphrase(str(built.run_config), model=ref)
        summary["corpus"] = summary_line(published)
    return summary


def register(app: typer.Typer) -> None:
    @app.command("scenes")
    def scenes_cmd(
        out: Annotated[Path, typer.Option(help="output folder")] = Path("runs/scenes"),
        data: Annotated[Path, typer.Option(help="shared data folder (esc50/, bigsoundbank/)")] = DEFAULT_DATA,
        train: Annotated[int, typer.Option(help="train scenes")] = 3000,
        test: Annotated[int, typer.Option(help="test scenes (distinct captions)")] = 300,
        paraphrase_train: Annotated[int, typer.Option(help="distinct train captions the LLM paraphrases (every test caption is paraphrased)")] = 400,
        seed: Annotated[int, typer.Option()] = 0,
        audio: Annotated[bool, typer.Option("--audio", help="also write audio/<scene>.flac (16 kHz) for robustclap train/evaluate")] = False,
        paraphrase: Annotated[bool, typer.Option("--paraphrase/--no-paraphrase", help="run the paraphrase flow on the chosen captions")] = True,
        model: Annotated[str, typer.Option(help="LLM for the paraphrases")] = DEFAULT_MODEL,
        candidates: Annotated[int, typer.Option(min=1, help="candidates per caption and level (a packaged model's greedy level asks one)")] = 1,
    ) -> None:
        """Compose sound scenes (1-3 ESC-50/BigSoundBank events, counts, sequence/overlap) with
        exact captions and held-out rewordings; paraphrase and publish their captions."""
        typer.echo(json.dumps(make_scenes(data, out, train, test, paraphrase_train, seed,
                                          audio, paraphrase, model, candidates), indent=2))
