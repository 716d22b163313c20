"""The benchmark harness on cheap functions: alternation, medians, ratio, goals, machine info,
JSON + markdown writing, the registry, and `robustclap bench --help`. No timed assertions."""

from __future__ import annotations

import contextlib
import json

import pytest

from robustclap.bench.harness import (
    Comparison,
    Goal,
    Result,
    alternate,
    machine_info,
    median,
    ratio,
    to_markdown,
    write_report,
)


def test_alternate_swaps_who_goes_first_and_counts_reps() -> None:
    calls: list[str] = []
    comp = alternate(lambda: calls.append("t"), lambda: calls.append("b"), repeats=4, warmup=1)
    assert calls == ["t", "b", "t", "b", "b", "t", "t", "b", "b", "t"]  # warm-up pair first
    assert comp.order == ["toolkit", "baseline", "baseline", "toolkit"] * 2
    assert len(comp.toolkit) == len(comp.baseline) == 4


def test_functions_may_return_their_own_measure() -> None:
    values = iter([5.0, 1.0, 2.0, 7.0, 3.0, 4.0])  # t b | b t | t b
    comp = alternate(lambda: next(values), lambda: next(values), repeats=3)
    assert comp.toolkit == [5.0, 7.0, 3.0]
    assert comp.baseline == [1.0, 2.0, 4.0]
    assert comp.toolkit_median == 5.0 and comp.baseline_median == 2.0
    assert comp.ratio == 2.5
    d = comp.to_dict()
    assert d["ratio"] == 2.5 and d["toolkit_median"] == 5.0


def test_median_and_ratio_edge_cases() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0]) == 1.5
    assert median([]) is None
    assert ratio(1.0, 0.0) is None and ratio(None, 1.0) is None
    assert Comparison().ratio is None


def test_goals() -> None:
    assert Goal("r", 1.04, 1.05).met is True
    assert Goal("r", 1.06, 1.05).met is False
    assert Goal("rate", 120.0, 100, at_least=True).met is True
    assert Goal("rate", 90.0, 100, at_least=True).met is False
    assert Goal("r", None, 1.0).met is None


def test_machine_info_names_cpu_cores_and_versions() -> None:
    m = machine_info()
    assert m["cpu_model"] and m["cpu_count"] >= 1 and m["cpus_usable"] >= 1
    assert "gpu" in m
    assert m["versions"]["python"] and m["versions"]["torch"]


def _results() -> list[Result]:
    r = Result("demo", "demo benchmark", params={"rows": 10})
    r.comparisons["wall_s"] = alternate(lambda: 2.0, lambda: 1.0, repeats=3)
    r.metrics["rows_per_s"] = 123.4
    r.goals.append(Goal("wall ratio", r.comparisons["wall_s"].ratio, 1.05))
    r.notes.append("a note")
    broken = Result("broken", "fails", error="RuntimeError: boom")
    return [r, broken]


def test_write_report_json_and_markdown(tmp_path) -> None:
    report = write_report(_results(), tmp_path, started=0.0)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "LATEST.json" in files and "LATEST.md" in files
    assert any(f.startswith("results-") and f.endswith(".json") for f in files)
    data = json.loads((tmp_path / "LATEST.json").read_text())
    assert data["machine"]["cpu_model"] == report["machine"]["cpu_model"]
    demo = data["results"][0]
    assert demo["comparisons"]["wall_s"]["ratio"] == 2.0
    assert demo["goals"][0]["met"] is False
    assert data["results"][1]["error"] == "RuntimeError: boom"
    md = (tmp_path / "LATEST.md").read_text()
    assert "| demo | wall ratio | 2 | ≤ 1.05 | no |" in md
    assert "| demo | wall_s | 2 | 1 | 2 | 3 |" in md
    assert "error: RuntimeError: boom" in md
    assert "Machine:" in md and "rows_per_s: 123" in md


def test_write_report_without_latest(tmp_path) -> None:
    write_report(_results(), tmp_path, started=0.0, latest=False)
    assert not (tmp_path / "LATEST.md").exists()
    assert list(tmp_path.glob("results-*.md"))


def test_markdown_of_an_empty_run() -> None:
    md = to_markdown({"started": "a", "finished": "b", "wall_s": 0.0, "results": [],
                      "machine": machine_info()})
    assert md.startswith("# robustclap benchmarks")


def test_registry_names_and_errors_become_results(tmp_path, monkeypatch) -> None:
    from robustclap.bench import registry

    assert list(registry.BENCHMARKS) == ["rerun", "prefix_cache", "generate", "memory",
                                         "gate", "train_step", "chaos", "cpu_dtype", "yield",
                                         "method"]
    assert "chaos" not in [b.name for b in registry.resolve(None)]  # minutes: asked by name
    assert [b.name for b in registry.resolve(["gate", "rerun"])] == ["gate", "rerun"]
    with pytest.raises(KeyError):
        registry.resolve(["nope"])
    bad = registry.Bench("bad", "robustclap.bench.no_such_module", "missing")
    r = registry.run_one(bad, {}, tmp_path)
    assert r.error and "ModuleNotFoundError" in r.error and r.wall_s is not None


def test_no_idle_engine_beside_a_benchmark_that_does_not_use_it(tmp_path, monkeypatch) -> None:
    from robustclap.bench import common, registry

    closed: list[str] = []

    class FakeBackend:
        def close(self) -> None:
            closed.append("engine")

    backend, stack = FakeBackend(), contextlib.ExitStack()
    stack.callback(backend.close)  # as open_backend shuts an engine
    monkeypatch.setattr(common, "_ENGINE", {("m", ()): (backend, 1.0)})
    monkeypatch.setattr(common, "_STACK", stack)
    missing = "robustclap.bench.no_such_module"
    llm_bench = registry.Bench("llm", missing, "uses the engine", engine=True)
    registry.run_one(llm_bench, {}, tmp_path)
    assert closed == [] and len(common._ENGINE) == 1  # kept for the next LLM benchmark
    registry.run_one(registry.Bench("cpu", missing, "no engine"), {}, tmp_path)
    assert closed == ["engine"] and common._ENGINE == {}


def test_bench_help() -> None:
    from typer.testing import CliRunner

    from robustclap.cli import app

    res = CliRunner().invoke(app, ["bench", "--help"])
    assert res.exit_code == 0, res.output
    for word in ("--repeats", "--size", "--model", "--out"):
        assert word in res.output


def test_bench_unknown_name_is_a_clear_error(tmp_path) -> None:
    from typer.testing import CliRunner

    from robustclap.cli import app
    from robustclap.contracts.errors import RobustclapError

    res = CliRunner().invoke(app, ["bench", "nope", "--out", str(tmp_path)])
    assert res.exit_code != 0  # the real command turns it into one message and exit code 2
    assert isinstance(res.exception, RobustclapError) and "nope" in str(res.exception)
    assert not list(tmp_path.iterdir())
