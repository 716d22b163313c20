"""Issue 16, cases 3 and 7: everything `robustclap run` needs is checked before Prefect or an
engine starts; training configs refuse values that cannot be meant; configs that are not
UTF-8 or name a key twice are one message, not a traceback."""

from __future__ import annotations

import math

import pytest
import yaml

from robustclap.contracts.errors import RobustclapError
from robustclap.training.config import load_config as load_train_config
from robustclap.training.config import parse_config

TRAIN = {"model": "laion/clap-htsat-unfused", "out_dir": "out", "max_steps": 2,
         "data": {"audio_dir": "audio", "captions": "caps.parquet"}}


def _run_config(tmp_path, **extra) -> dict:
    (tmp_path / "caps.csv").write_text("clip_id,caption\na,A dog barks\n")
    cfg = {"name": "c", "input": "caps.csv", "corpus_dir": "corpus", "work_dir": "work",
           "generate": {"model": "m", "base_url": "http://127.0.0.1:9/v1"}}
    for key, value in extra.items():
        node, *rest = key.split(".")
        if rest:
            cfg.setdefault(node, {})[rest[0]] = value
        else:
            cfg[key] = value
    return cfg


def _write(tmp_path, cfg: dict):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("extra,message", [
    ({"name": ".."}, "name"),
    ({"name": "."}, "name"),
    ({"format": "xml"}, "format"),
    ({"cron": "61 * * * *"}, "not a valid cron schedule"),
    ({"generate.request_timeout_s": math.inf}, "finite number"),
    ({"generate.server_start_timeout_s": math.nan}, "finite number"),
    ({"task_runner": "dask", "generate.backend": "inprocess"}, "dask needs generate.backend"),
    ({"input": "missing.csv"}, "missing.csv is not a file"),
    ({"gate_config": "nope.yaml"}, "gate_config"),
    ({"finetune.enabled": True}, "finetune.train_config"),
    ({"finetune.enabled": True, "finetune.train_config": "nope.yaml"}, "nope.yaml is not a file"),
    ({"corpus_dir": "caps.csv"}, "not a folder"),
])
def test_case3_run_config_is_refused_before_prefect_starts(tmp_path, cli, extra, message):
    code, out = cli(["run", _write(tmp_path, _run_config(tmp_path, **extra))])
    assert code == 2, out
    assert message in out and "Traceback" not in out
    assert "temporary server" not in out and not (tmp_path / "work").exists()


def test_case3_finetune_train_config_is_read_up_front(tmp_path, cli):
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(
        {**TRAIN, "optim": {"betas": [2, -1]}}))
    cfg = _run_config(tmp_path, **{"finetune.enabled": True,
                                   "finetune.train_config": "train.yaml"})
    code, out = cli(["run", _write(tmp_path, cfg)])
    assert code == 2 and "betas" in out and "Traceback" not in out
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(TRAIN))
    code, out = cli(["run", _write(tmp_path, cfg)])
    assert code == 2 and "audio" in out and "is not a folder" in out


@pytest.mark.parametrize("patch,message", [
    ({"optim": {"betas": [2, -1]}}, "betas"),
    ({"optim": {"eps": 0}}, "eps"),
    ({"optim": {"eps": math.nan}}, "finite number"),
    ({"optim": {"lr": math.inf}}, "finite number"),
    ({"max_steps": None, "epochs": math.inf}, "finite number"),
    ({"data": {**TRAIN["data"], "train_splits": []}}, "train_splits"),
])
def test_case3_training_config_refuses_unmeant_values(patch, message):
    with pytest.raises(RobustclapError, match=message):
        parse_config({**TRAIN, **patch})


def test_case3_training_data_paths_are_checked_before_the_model(tmp_path, cli):
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(
        {**TRAIN, "model": "no-such-org/no-such-model",
         "data": {"audio_dir": str(tmp_path / "none"), "captions": str(tmp_path / "c.pq")}}))
    code, out = cli(["train", "-c", tmp_path / "train.yaml"])
    assert code == 2 and "data.audio_dir" in out and "does not exist" in out, out


@pytest.mark.parametrize("body,message", [
    (b"name: c\ninput: caps.csv\nname: d\n", "duplicate key 'name'"),
    (b"name: caf\xe9\ninput: caps.csv\n", "not UTF-8"),
    (b"name: [unclosed\n", "not valid YAML"),
])
def test_case7_run_config_bytes_and_duplicates(tmp_path, cli, body, message):
    (tmp_path / "run.yaml").write_bytes(body)
    code, out = cli(["run", tmp_path / "run.yaml"])
    assert code == 2 and message in out and "Traceback" not in out, out


def test_case7_training_config_not_utf8(tmp_path):
    (tmp_path / "t.yaml").write_bytes(b"model: caf\xe9\n")
    with pytest.raises(RobustclapError, match="not UTF-8"):
        load_train_config(tmp_path / "t.yaml")


def test_case3_serve_checks_the_run_before_deploying(tmp_path):
    from robustclap.flows.serve import deployments

    with pytest.raises(RobustclapError, match="gate_config"):
        deployments(_write(tmp_path, _run_config(tmp_path, gate_config="nope.yaml")))
