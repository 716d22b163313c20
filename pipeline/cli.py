"""`robustclap ingest | generate | tiny-model`: the generate stage's commands.

`generate`'s options are declared once as a table: most override a GenerateConfig field (None
keeps the config's value), the rest say what to read and where to write.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from robustclap.cli_options import REQUIRED, default_of, engine_args, option, with_options
from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.progress import generation_progress
from robustclap.contracts.schema import CAPTIONS, INGEST_REJECTS, write_table
from robustclap.llm.tiny_model import build_tiny_llama
from robustclap.pipeline.config import GenerateConfig, load_config
from robustclap.pipeline.ingest import ColumnMapping, output_dir
from robustclap.pipeline.ingest import ingest as run_ingest
from robustclap.pipeline.runner import run_generate

FORMAT_HELP = "auto|audiocaps|clotho|csv|jsonl|parquet"
Format = Annotated[str, typer.Option(help=FORMAT_HELP)]
CaptionCol = Annotated[str, typer.Option(help="generic formats: caption column")]
ClipCol = Annotated[str, typer.Option(help="generic formats: clip id column")]
SplitCol = Annotated[str | None, typer.Option(help="generic formats: split column")]


def _gen_default(field: str) -> str:
    return default_of(GenerateConfig, field)


def ingest(
    input: Annotated[Path, typer.Option("--input", "-i", help="caption file")],
    out: Annotated[Path, typer.Option(help="folder for captions.parquet + ingest_rejects")],
    format: Format = "auto",
    caption_col: CaptionCol = "caption",
    clip_col: ClipCol = "clip_id",
    split_col: SplitCol = None,
    split: Annotated[str | None, typer.Option(help="split for every row (default: from the file name)")] = None,
    max_clips: Annotated[int | None, typer.Option(help="keep only the first N clips")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace the captions an earlier ingest wrote to OUT")] = False,
) -> None:
    """Read a caption file into the captions table; bad rows go to rejects with a reason."""
    out = output_dir(out)
    earlier = [n for n in (layout.CAPTIONS_FILE, layout.INGEST_REJECTS_FILE)
               if (out / n).exists()]
    if earlier and not overwrite:
        raise RobustclapError(f"{out} already holds {', '.join(earlier)} from an earlier ingest; "
                              "pass --overwrite to replace it, or choose another --out")
    res = run_ingest(input, fmt=format, mapping=ColumnMapping(caption_col, clip_col, split_col),
                     split=split, max_clips=max_clips)
    write_table(CAPTIONS, res.captions, out / layout.CAPTIONS_FILE)
    write_table(INGEST_REJECTS, res.rejects, out / layout.INGEST_REJECTS_FILE)
    typer.echo(json.dumps({"format": res.fmt, **res.counts}, indent=2))


# generate option -> the GenerateConfig field it overrides (dotted: sampling.*)
CONFIG_KEYS = {
    "model": "model", "backend": "backend", "base_url": "base_url", "candidates": "candidates",
    "api_key": "api_key", "levels": "levels", "max_tokens": "sampling.max_tokens",
    "temperature": "sampling.temperature", "top_p": "sampling.top_p",
    "max_attempts": "max_attempts", "level2_source": "level2_source", "shard_size": "shard_size",
    "concurrency": "concurrency", "request_timeout_s": "request_timeout_s",
    "engine_arg": "engine_args", "cache_dir": "cache_dir", "prompt_dir": "prompt_dir",
}

GENERATE_OPTIONS = (
    option("input", Path, REQUIRED, "--input", "-i", help="caption file or captions.parquet"),
    option("out", Path, help="output folder (candidates/, manifest.json)"),
    option("format", str, "auto", help=FORMAT_HELP),
    option("model", str | None, None, help="hub id or local model folder" + _gen_default("model")),
    option("backend", str | None, None, help="served | inprocess" + _gen_default("backend")),
    option("base_url", str | None, None, help="OpenAI-compatible server to use instead of launching `vllm serve`"),
    option("api_key", str | None, None, help="the server's API key (default: $OPENAI_API_KEY or the config's api_key_env); never written to disk"),
    option("candidates", int | None, None, help="candidates per caption and level" + _gen_default("candidates")),
    option("levels", str | None, None, help="comma list, e.g. 1,2" + _gen_default("levels")),
    option("config", Path | None, None, help="YAML generation config"),
    option("max_clips", int | None, None, help="only the first N clips of the input"),
    option("max_tokens", int | None, None, help="max new tokens per reply" + _gen_default("sampling.max_tokens")),
    option("temperature", float | None, None, help="sampling temperature" + _gen_default("sampling.temperature")),
    option("top_p", float | None, None, help="nucleus sampling share" + _gen_default("sampling.top_p")),
    option("max_attempts", int | None, None, help="asks per item before it fails" + _gen_default("max_attempts")),
    option("level2_source", str | None, None, help="original | level1" + _gen_default("level2_source")),
    option("shard_size", int | None, None, help="captions per output shard" + _gen_default("shard_size")),
    option("concurrency", int | None, None, help="served: requests in flight" + _gen_default("concurrency")),
    option("request_timeout_s", float | None, None, help="served: seconds per request" + _gen_default("request_timeout_s")),
    option("engine_arg", list[str] | None, None, help="vLLM engine arg key=value (repeat)"),
    option("cache_dir", str | None, None, help="response cache folder (default ~/.cache/robustclap)"),
    option("prompt_dir", str | None, None, help="folder with level1.yaml/level2.yaml"),
    option("regenerate", Path | None, None, help="gate's regenerate.parquet: only these (caption, level)"),
    option("round", int, 0, help="regeneration round (new seeds, new candidate indices)"),
    option("caption_col", str, "caption", help="generic formats: caption column"),
    option("clip_col", str, "clip_id", help="generic formats: clip id column"),
    option("split_col", str | None, None, help="generic formats: split column"),
    option("split", str | None, None, help="split for every row"),
    option("progress", bool, True, help="show a progress bar"),
)


def generate_overrides(opts: dict[str, Any]) -> dict[str, Any]:
    """The GenerateConfig overrides the command line gives (None = keep the config's)."""
    values = {**opts, "levels": [int(x) for x in opts["levels"].split(",")]
              if opts["levels"] else None, "engine_arg": engine_args(opts["engine_arg"])}
    return {key: values[name] for name, key in CONFIG_KEYS.items()}


@with_options(*GENERATE_OPTIONS)
def generate(**opts: Any) -> None:
    """Paraphrase captions into level-1/level-2 candidates through vLLM."""
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # keep stdout for the summary
    cfg = load_config(opts["config"], generate_overrides(opts))
    manifest = run_generate(
        opts["input"], opts["out"], cfg, fmt=opts["format"],
        mapping=ColumnMapping(opts["caption_col"], opts["clip_col"], opts["split_col"]),
        split=opts["split"], max_clips=opts["max_clips"], regenerate=opts["regenerate"],
        round_=opts["round"],
        progress_factory=lambda n: generation_progress(n, enabled=opts["progress"]),
    )
    keys = ("rows_written", "rows_skipped", "ok_rows", "failed_rows", "llm_calls",
            "cache_hits", "completion_tokens", "rows_per_s", "tokens_per_s")
    typer.echo(json.dumps({"status": manifest.status, **{k: manifest.counts.get(k) for k in
                                                         keys}, "wall_s": manifest.wall_s},
                          indent=2))


def tiny_model(
    out: Annotated[Path, typer.Argument(help="folder to write the model to")],
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Build a tiny random chat LLM (for offline dry runs and tests; it writes gibberish)."""
    typer.echo(str(build_tiny_llama(out, seed=seed)))


def register(app: typer.Typer) -> None:
    app.command()(ingest)
    app.command()(generate)
    app.command("tiny-model")(tiny_model)
