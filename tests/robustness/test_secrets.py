"""Issue 16, case 8: the API key reaches the server and is never written anywhere."""

from __future__ import annotations

import json
from pathlib import Path

from robustclap.bench.chaos_run import run_stages
from robustclap.flows.config import load_run_config

SECRET = "sk-robustclap-test-7f3a9c1e5b"


def _files_holding(folder: Path, needle: str) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_case8_key_from_an_env_field_reaches_the_server_not_the_disk(tmp_path, small_run,
                                                                     fake_llm, monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", SECRET)
    published = run_stages(load_run_config(small_run(api_key_env="MY_LLM_KEY")))
    assert fake_llm.requests > 0 and set(fake_llm.auth) == {f"Bearer {SECRET}"}
    version = Path(published["path"])
    gen_manifests = list((version / "generation_manifests").glob("*.json"))
    assert gen_manifests  # the whole generation config is there, the key is not
    assert json.loads(gen_manifests[0].read_text())["extra"]["config"]["api_key"] is None
    assert _files_holding(tmp_path, SECRET) == []


def test_case8_api_key_flag_and_openai_env(tmp_path, fake_llm, cli, monkeypatch):
    (tmp_path / "c.csv").write_text("clip_id,caption\na,A dog barks\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-123")
    args = ["generate", "-i", tmp_path / "c.csv", "--out", tmp_path / "out", "--model", "fake",
            "--base-url", fake_llm.url, "--cache-dir", tmp_path / "cache", "--no-progress"]
    code, out = cli(args)
    assert code == 0, out
    assert set(fake_llm.auth) == {"Bearer sk-from-env-123"}
    fake_llm.auth.clear()
    code, out = cli([*args, "--api-key", SECRET, "--levels", "1", "--candidates", "2"])
    assert code == 0, out
    assert set(fake_llm.auth) == {f"Bearer {SECRET}"}
    assert _files_holding(tmp_path, SECRET) == [] and SECRET not in out
