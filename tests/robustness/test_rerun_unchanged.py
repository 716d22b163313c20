"""A scheduled rerun with nothing new publishes nothing and triggers nothing (issue 26), on the
real flow (Prefect's temporary server, the served client, the fake endpoint); the
`robustclap-llm` concurrency limit is either created and used or not asked for."""

from __future__ import annotations

import logging
from pathlib import Path

import robustclap.flows.paraphrase as paraphrase
from robustclap.contracts.layout import versions
from robustclap.flows.shards import LLM_LIMIT


def _events(monkeypatch) -> list[dict]:
    fired: list[dict] = []
    monkeypatch.setattr(paraphrase, "emit_event",
                        lambda event, resource, payload: fired.append(payload))
    return fired


def test_identical_rerun_publishes_and_triggers_nothing(tmp_path, small_run, fake_llm,
                                                        monkeypatch, caplog):
    fired = _events(monkeypatch)
    cfg = small_run(top={"regenerate_rounds": 0})
    caplog.set_level(logging.WARNING)
    first = paraphrase.run_paraphrase(str(cfg))
    asked = fake_llm.requests
    assert first["version"] == 1 and not first["unchanged"] and len(fired) == 1
    assert "do not exist - skipping acquisition" not in caplog.text  # not requested at all

    second = paraphrase.run_paraphrase(str(cfg))
    assert second["unchanged"] and second["version"] == 1
    assert fake_llm.requests == asked  # nothing asked
    assert len(fired) == 1  # no publish event: the fine-tune trigger does not fire
    assert versions(tmp_path / "corpus" / "robust") == [1]
    line = paraphrase.summary_line(second)
    assert '"message": "unchanged, latest is v1"' in line and '"llm_calls": 0' in line

    (tmp_path / "caps.csv").write_text((tmp_path / "caps.csv").read_text().replace(
        "A car passes by quickly.", "A car passes by slowly."))
    third = paraphrase.run_paraphrase(str(cfg))
    assert third["version"] == 2 and not third["unchanged"] and len(fired) == 2
    assert fired[-1]["version"] == 2 and Path(third["path"]).name == "v2"


def test_llm_limit_is_created_on_first_use(tmp_path, small_run, fake_llm, monkeypatch, caplog):
    from prefect.client.orchestration import get_client

    _events(monkeypatch)
    used: list[bool] = []
    real = paraphrase.shard_runner

    def spy(engine, on_dask, limited=False):  # noqa: ANN001, ANN202
        used.append(limited)
        return real(engine, on_dask, limited)

    monkeypatch.setattr(paraphrase, "shard_runner", spy)
    caplog.set_level(logging.WARNING)
    cfg = small_run(top={"regenerate_rounds": 0, "llm_limit": 3})
    paraphrase.run_paraphrase(str(cfg))
    assert used == [True]
    assert "do not exist - skipping acquisition" not in caplog.text
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(LLM_LIMIT)
        assert limit.limit == 3 and limit.active
        client.delete_global_concurrency_limit_by_name(LLM_LIMIT)
