"""CLI commands of the training stage (train, evaluate, tiny-clap); registered on the main app.

torch and transformers are imported inside the commands (seconds to load) so `robustclap --help`
stays fast. A RobustclapError raised here is printed by the main app as one line, without a
traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from robustclap.cli_options import refuse_replace
from robustclap.contracts.errors import RobustclapError
from robustclap.training.config import check_data_paths, load_config

THREADS_HELP = "torch CPU threads (default: torch's choice; 1 is faster when other jobs share " \
    "the cores)"


def set_threads(threads: int | None) -> None:
    """The same --threads as gate and calibrate: torch's intra-op CPU threads."""
    if threads is not None:
        import torch  # lazy: seconds to load, and only when --threads is given

        torch.set_num_threads(threads)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging  # lazy: seconds to load

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def train_cmd(
    config: Annotated[Path, typer.Option(
        "--config", "-c", help="Training YAML (see training/example_train.yaml).")],
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue from the latest checkpoint in out_dir "
        "(start fresh if there is none).")] = False,
    stop_after: Annotated[int | None, typer.Option(
        "--stop-after", min=1, help="Stop after this many steps in total, with a "
        "checkpoint (e.g. to fit a time limit); continue later with --resume.")] = None,
    max_steps: Annotated[int | None, typer.Option(
        "--max-steps", min=1, help="Override max_steps (replaces epochs).")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Override out_dir (checkpoints, logs).")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="Override model (hub id, local folder, or two-tower:aisfx+minilm).")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help=THREADS_HELP)] = None,
) -> None:
    """Fine-tune CLAP with the multi-view loss (L_clap + λ1·L_p1 + λ2·L_p2).

    One process on CPU or one GPU; for several GPUs run
    `torchrun --standalone --nproc_per_node N -m robustclap.training.train CONFIG [--resume]`.
    """
    cfg = load_config(config, {"out_dir": str(out_dir) if out_dir else None,
                               "max_steps": max_steps, "model": model})
    check_data_paths(cfg)  # before the model load (hub retries take a minute offline)
    set_threads(threads)
    _quiet_transformers()
    from robustclap.training.train import train  # lazy: torch and transformers

    stats = train(cfg, resume=resume, stop_after=stop_after).to_dict()
    stats["extra"].pop("losses", None)  # one per step: in OUT/metrics.csv
    typer.echo(json.dumps(stats, indent=2))


def evaluate_cmd(
    model: Annotated[str, typer.Option("--model", "-m", help="Hub id or local folder (a ClapModel or an exported two-tower model).")],
    audio: Annotated[Path, typer.Option(
        "--audio", help="Folder of the clips (file stem = clip id).")],
    captions: Annotated[Path, typer.Option(
        "--captions", help="CAPTIONS Parquet file or folder.")],
    corpus: Annotated[Path | None, typer.Option(
        "--corpus", help="Accepted paraphrases (folder with accepted.parquet, or the "
        "file).")] = None,
    split: Annotated[str, typer.Option(
        "--split", help="Caption split to evaluate, or 'all'.")] = "test",
    zero_shot: Annotated[Path | None, typer.Option(
        "--zero-shot", help="ESC-50 style meta CSV (filename, category|label).")] = None,
    zero_shot_audio: Annotated[Path | None, typer.Option(
        "--zero-shot-audio", help="Audio folder of --zero-shot (default: META_DIR/audio)."
    )] = None,
    template: Annotated[list[str] | None, typer.Option(
        "--template", help="Zero-shot prompt with {label}; repeat for several.")] = None,
    compare: Annotated[str | None, typer.Option(
        "--compare", help="A second model to show side by side (e.g. the fine-tuned "
        "one).")] = None,
    all_paraphrases: Annotated[bool, typer.Option(
        "--all-paraphrases", help="Query with every accepted paraphrase, not only the "
        "best-ranked one.")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the results JSON here.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an existing --out file.")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Clips per audio "
                                            "encoder pass.")] = 16,
    threads: Annotated[int | None, typer.Option(min=1, help=THREADS_HELP)] = None,
) -> None:
    """Measure paraphrase robustness: retrieval and zero-shot, one model or two.

    Text→audio and audio→text R@1/5/10 and mAP@10 for original, level-1 and level-2
    queries, the drop from original to each level, and zero-shot accuracy on an ESC-50
    style folder. With --compare, two models side by side (before → after).
    """
    refuse_replace(out, "--out", overwrite)
    set_threads(threads)
    _quiet_transformers()
    # lazy: torch and transformers
    from robustclap.training.evaluate import DEFAULT_TEMPLATES, evaluate_model
    from robustclap.training.report import results_table

    templates = tuple(template) if template else DEFAULT_TEMPLATES
    for t in templates:
        if "{label}" not in t:
            raise RobustclapError(f"template {t!r} has no {{label}}")
    cache: dict = {}  # decoded features, shared by both models when they match
    results = [
        evaluate_model(ref, audio, captions, corpus, split, zero_shot, zero_shot_audio,
                       templates, all_paraphrases, device, batch_size, cache=cache)
        for ref in ([model] + ([compare] if compare else []))
    ]
    Console(width=140).print(results_table(results))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = results[0] if len(results) == 1 else {"models": results}
        out.write_text(json.dumps(payload, indent=2))
        typer.echo(f"results written to {out}")


def tiny_clap_cmd(
    folder: Annotated[Path, typer.Argument(help="Where to write the checkpoint.")],
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Write a tiny random CLAP checkpoint for offline trials.

    Model, feature extractor and tokenizer in one folder: `--model FOLDER` works wherever
    a hub id does.
    """
    _quiet_transformers()
    from robustclap.training.tiny import save_tiny_clap  # lazy: torch and transformers

    typer.echo(f"tiny CLAP written to {save_tiny_clap(folder, seed)}")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to `app`."""
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.command("tiny-clap")(tiny_clap_cmd)
