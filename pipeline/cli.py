"""`robustclap ingest | generate | tiny-model`: the generate stage's commands.

Heavy libraries are imported inside commands so --help is fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from robustclap.cli_options import default_of, engine_args
from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError


def _gen_default(field: str) -> str:
    from robustclap.pipeline.config import GenerateConfig

    return default_of(GenerateConfig, field)


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        input: Annotated[Path, typer.Option("--input", "-i", help="caption file")],
        out: Annotated[Path, typer.Option(help="folder for captions.parquet + ingest_rejects")],
        format: Annotated[str, typer.Option(help="auto|audiocaps|clotho|csv|jsonl|parquet")] = "auto",
        caption_col: Annotated[str, typer.Option(help="generic formats: caption column")] = "caption",
        clip_col: Annotated[str, typer.Option(help="generic formats: clip id column")] = "clip_id",
        split_col: Annotated[str | None, typer.Option(help="generic formats: split column")] = None,
        split: Annotated[str | None, typer.Option(help="split for every row (default: from the file name)")] = None,
        max_clips: Annotated[int | None, typer.Option(help="keep only the first N clips")] = None,
        overwrite: Annotated[bool, typer.Option(help="replace the captions an earlier ingest wrote to OUT")] = False,
    ) -> None:
        """Read a caption file into the captions table; bad rows go to rejects with a reason."""
        from robustclap.contracts.schema import CAPTIONS, INGEST_REJECTS, write_table
        from robustclap.pipeline.ingest import ColumnMapping, output_dir
        from robustclap.pipeline.ingest import ingest as run_ingest

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


    @app.command()
    def generate(
        input: Annotated[Path, typer.Option("--input", "-i", help="caption file or captions.parquet")],
        out: Annotated[Path, typer.Option(help="output folder (candidates/, manifest.json)")],
        format: Annotated[str, typer.Option(help="auto|audiocaps|clotho|csv|jsonl|parquet")] = "auto",
        model: Annotated[str | None, typer.Option(help="hub id or local model folder" + _gen_default("model"))] = None,
        backend: Annotated[str | None, typer.Option(help="served | inprocess" + _gen_default("backend"))] = None,
        base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server to use instead of launching `vllm serve`")] = None,
        api_key: Annotated[str | None, typer.Option(help="the server's API key (default: $OPENAI_API_KEY or the config's api_key_env); never written to disk")] = None,
        candidates: Annotated[int | None, typer.Option(help="candidates per caption and level" + _gen_default("candidates"))] = None,
        levels: Annotated[str | None, typer.Option(help="comma list, e.g. 1,2" + _gen_default("levels"))] = None,
        config: Annotated[Path | None, typer.Option(help="YAML generation config")] = None,
        max_clips: Annotated[int | None, typer.Option(help="only the first N clips of the input")] = None,
        max_tokens: Annotated[int | None, typer.Option(help="max new tokens per reply" + _gen_default("sampling.max_tokens"))] = None,
        temperature: Annotated[float | None, typer.Option(help="sampling temperature" + _gen_default("sampling.temperature"))] = None,
        top_p: Annotated[float | None, typer.Option(help="nucleus sampling share" + _gen_default("sampling.top_p"))] = None,
        max_attempts: Annotated[int | None, typer.Option(help="asks per item before it fails" + _gen_default("max_attempts"))] = None,
        level2_source: Annotated[str | None, typer.Option(help="original | level1" + _gen_default("level2_source"))] = None,
        shard_size: Annotated[int | None, typer.Option(help="captions per output shard" + _gen_default("shard_size"))] = None,
        concurrency: Annotated[int | None, typer.Option(help="served: requests in flight" + _gen_default("concurrency"))] = None,
        request_timeout_s: Annotated[float | None, typer.Option(help="served: seconds per request" + _gen_default("request_timeout_s"))] = None,
        engine_arg: Annotated[list[str] | None, typer.Option(help="vLLM engine arg key=value (repeat)")] = None,
        cache_dir: Annotated[str | None, typer.Option(help="response cache folder (default ~/.cache/robustclap)")] = None,
        prompt_dir: Annotated[str | None, typer.Option(help="folder with level1.yaml/level2.yaml")] = None,
        regenerate: Annotated[Path | None, typer.Option(help="gate's regenerate.parquet: only these (caption, level)")] = None,
        round: Annotated[int, typer.Option(help="regeneration round (new seeds, new candidate indices)")] = 0,
        caption_col: Annotated[str, typer.Option(help="generic formats: caption column")] = "caption",
        clip_col: Annotated[str, typer.Option(help="generic formats: clip id column")] = "clip_id",
        split_col: Annotated[str | None, typer.Option(help="generic formats: split column")] = None,
        split: Annotated[str | None, typer.Option(help="split for every row")] = None,
        progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    ) -> None:
        """Paraphrase captions into level-1/level-2 candidates through vLLM."""
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # keep stdout for the summary
        from robustclap.contracts.progress import generation_progress
        from robustclap.pipeline.config import load_config
        from robustclap.pipeline.ingest import ColumnMapping
        from robustclap.pipeline.runner import run_generate

        lv = [int(x) for x in levels.split(",")] if levels else None
        cfg = load_config(config, {
            "model": model, "backend": backend, "base_url": base_url, "candidates": candidates,
            "api_key": api_key,
            "levels": lv, "sampling.max_tokens": max_tokens, "sampling.temperature": temperature,
            "sampling.top_p": top_p,
            "max_attempts": max_attempts, "level2_source": level2_source,
            "shard_size": shard_size, "concurrency": concurrency,
            "request_timeout_s": request_timeout_s, "engine_args": engine_args(engine_arg),
            "cache_dir": cache_dir, "prompt_dir": prompt_dir,
        })
        manifest = run_generate(
            input, out, cfg, fmt=format, mapping=ColumnMapping(caption_col, clip_col, split_col),
            split=split, max_clips=max_clips, regenerate=regenerate, round_=round,
            progress_factory=lambda n: generation_progress(n, enabled=progress),
        )
        keys = ("rows_written", "rows_skipped", "ok_rows", "failed_rows", "llm_calls",
                "cache_hits", "completion_tokens", "rows_per_s", "tokens_per_s")
        typer.echo(json.dumps({"status": manifest.status, **{k: manifest.counts.get(k) for k in
                                                             keys}, "wall_s": manifest.wall_s},
                              indent=2))


    @app.command("tiny-model")
    def tiny_model(
        out: Annotated[Path, typer.Argument(help="folder to write the model to")],
        seed: Annotated[int, typer.Option()] = 0,
    ) -> None:
        """Build a tiny random chat LLM (for offline dry runs and tests; it writes gibberish)."""
        from robustclap.pipeline.tiny_model import build_tiny_llama

        typer.echo(str(build_tiny_llama(out, seed=seed)))
