"""One YAML file describes a scheduled paraphrase run (and the fine-tuning it may trigger).

Relative paths are resolved against the config file's folder, so an example config works from
any working directory. `check_run` opens every file the run will need before Prefect or an
engine starts: a typo costs seconds, not a run (it used to surface inside the flow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from robustclap.contracts.config import load_yaml_model
from robustclap.contracts.errors import RobustclapError
from robustclap.pipeline.config import GenerateConfig
from robustclap.pipeline.ingest import FORMATS, detect_format

# A corpus name is one folder name: `..` or `.` would make the corpus root a parent folder.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class FinetuneConfig(_Strict):
    enabled: bool = False
    train_config: Path | None = None  # a training YAML (see training/example_train.yaml)
    audio_dir: Path | None = None  # overrides the training config's data.audio_dir
    min_pass_rate: float = Field(0.0, ge=0, le=1)  # accepted (caption, level) share
    min_accepted: int = Field(0, ge=0)
    max_steps: int | None = Field(None, ge=1)
    evaluate_split: str = "test"


class RunConfig(_Strict):
    name: str = Field("corpus", pattern=NAME_PATTERN)
    input: Path
    format: Literal[FORMATS] = "auto"  # type: ignore[valid-type]
    caption_col: str = "caption"  # generic CSV / JSONL / Parquet column mapping
    clip_col: str = "clip_id"
    split_col: str | None = None  # default: a column named `split` if there is one
    max_clips: int | None = Field(None, ge=1)
    split: str | None = None
    corpus_dir: Path = Path("runs/corpus")  # versions go to corpus_dir/name/vN
    work_dir: Path = Path("runs/work")  # generation + gate intermediates (reused next run)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    gate_config: Path | None = None  # default: the shipped quality/gates.yaml
    regenerate_rounds: int = Field(2, ge=0, le=10)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    cron: str | None = "0 3 * * *"  # schedule of the served deployment
    # Where shard tasks run: "thread" (this process, shares one engine) or "dask" (a Dask
    # cluster: `dask_address` of a running scheduler, or a local cluster of `dask_workers`
    # processes); dask needs the served backend, and a cache_dir every worker can reach.
    task_runner: Literal["thread", "dask"] = "thread"
    dask_address: str | None = None
    dask_workers: int = Field(2, ge=1)
    dashboard_url: str | None = None  # linked from the run's artifacts
    # shard tasks at once across runs on the LLM endpoint: the Prefect global concurrency
    # limit `robustclap-llm`, created (or set) on first use; null: one made with
    # `prefect gcl create` is used when it exists, else no limit is requested
    llm_limit: int | None = Field(None, ge=1)

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=v)
        except ValueError as exc:
            raise ValueError(f"not a valid cron schedule: {v!r}") from exc
        return v

    @model_validator(mode="after")
    def _runner(self) -> RunConfig:
        if self.task_runner == "dask" and self.generate.backend != "served":
            raise ValueError("task_runner: dask needs generate.backend: served (each worker "
                             "talks to the endpoint; an in-process engine cannot be shared)")
        if self.dask_address is not None and self.task_runner != "dask":
            raise ValueError("dask_address is set but task_runner is not dask")
        return self

    def corpus_root(self) -> Path:
        return self.corpus_dir / self.name


def _resolve(base: Path, value: Path | None) -> Path | None:
    if value is None:
        return None
    value = Path(value).expanduser()
    return value if value.is_absolute() else (base / value).resolve()


def load_run_config(path: str | Path, overrides: dict | None = None) -> RunConfig:
    """Read, apply dotted overrides ({"generate.model": "..."}), validate, resolve paths."""
    path = Path(path)
    cfg = load_yaml_model(path, RunConfig, overrides, what="run config")
    base = path.resolve().parent
    cfg.input = _resolve(base, cfg.input)
    cfg.corpus_dir = _resolve(base, cfg.corpus_dir)
    cfg.work_dir = _resolve(base, cfg.work_dir)
    cfg.gate_config = _resolve(base, cfg.gate_config)
    ft = cfg.finetune
    ft.train_config = _resolve(base, ft.train_config)
    ft.audio_dir = _resolve(base, ft.audio_dir)
    gen_model = Path(cfg.generate.model).expanduser()
    if not gen_model.is_absolute() and (base / gen_model).exists():
        cfg.generate.model = str((base / gen_model).resolve())
    if cfg.generate.prompt_dir:
        cfg.generate.prompt_dir = str(_resolve(base, Path(cfg.generate.prompt_dir)))
    if cfg.generate.cache_dir:
        cfg.generate.cache_dir = str(_resolve(base, Path(cfg.generate.cache_dir)))
    return cfg


def _not_a_file(what: str, path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise RobustclapError(f"{what} {path} exists and is not a folder")


def check_run(rc: RunConfig) -> None:
    """Raise one RobustclapError for the first thing the run could not use."""
    if not rc.input.is_file():
        raise RobustclapError(f"input: {rc.input} is not a file")
    if rc.format == "auto":
        detect_format(rc.input)  # an unknown extension fails here, not inside the flow
    _not_a_file("corpus_dir", rc.corpus_dir)
    _not_a_file("corpus folder", rc.corpus_root())
    _not_a_file("work_dir", rc.work_dir)
    if rc.gate_config is not None and not rc.gate_config.is_file():
        raise RobustclapError(f"gate_config: {rc.gate_config} is not a file")
    from robustclap.quality.config import load_config as load_gate_config

    try:
        load_gate_config(rc.gate_config)
    except (UnicodeDecodeError, ValueError) as exc:  # anything it does not word itself
        raise RobustclapError(f"gate_config {rc.gate_config}: {exc}") from exc
    for what, folder in (("generate.prompt_dir", rc.generate.prompt_dir),):
        if folder is not None and not Path(folder).is_dir():
            raise RobustclapError(f"{what}: {folder} is not a folder")
    if rc.generate.cache_dir is not None:
        _not_a_file("generate.cache_dir", Path(rc.generate.cache_dir))
    if rc.finetune.enabled:
        _check_finetune(rc)


def _check_finetune(rc: RunConfig) -> None:
    """The training config parses and its audio folder exists (the corpus comes later)."""
    from robustclap.training.config import load_config

    ft = rc.finetune
    if ft.train_config is None:
        raise RobustclapError("finetune.enabled needs finetune.train_config (a training YAML)")
    if not ft.train_config.is_file():
        raise RobustclapError(f"finetune.train_config: {ft.train_config} is not a file")
    cfg = load_config(ft.train_config)
    audio = ft.audio_dir or cfg.data.audio_dir
    if not Path(audio).is_dir():
        raise RobustclapError(f"fine-tune audio folder {audio} is not a folder "
                              "(finetune.audio_dir or the training config's data.audio_dir)")
