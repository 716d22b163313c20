"""chaos: SIGKILL a paraphrase run at random points of generate, gate and publish; rerun it
after every kill and check that nothing was lost, duplicated or half-published.

Each cycle starts from an empty work folder and response cache (so the generate phase really
asks the LLM), kills `python -m robustclap.bench.chaos_run` (the flow's stages, see
bench/chaos_run.py)
a random time into the phase it aims at, reruns it to the end, and checks:
- every (caption, level, candidate) exists exactly once among the candidate shards;
- every Parquet file under the work and corpus folders reads;
- `latest` points at a version that honours the readers' contract (sizes, footers, SHA-256);
- the accepted corpus equals the one of a run that was never killed.
The LLM is bench.fake_openai: deterministic and fast, behind the real served client.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from robustclap.bench.chaos_run import PHASES
from robustclap.bench.harness import Goal, Result
from robustclap.contracts import layout

REPO = Path(__file__).resolve().parents[2]
DEFAULT_KILLS = {"smoke": 3, "default": 20, "large": 40}


@dataclass
class Run:
    """One child process and the time each phase began (seconds after start)."""

    proc: subprocess.Popen
    started: float
    lines: queue.Queue = field(default_factory=queue.Queue)
    phases: list[tuple[str, float]] = field(default_factory=list)
    output: list[str] = field(default_factory=list)

    def pump(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.output.append(line)
            if line.startswith("PHASE "):
                name = line.split()[1]
                self.phases.append((name, time.perf_counter() - self.started))
                self.lines.put(name)
        self.lines.put(None)

    def wait_phase(self, name: str, timeout: float) -> bool:
        """Block until the child announces `name`; False if it ended first."""
        deadline = time.perf_counter() + timeout
        while (left := deadline - time.perf_counter()) > 0:
            try:
                got = self.lines.get(timeout=left)
            except queue.Empty:
                return False
            if got is None:
                return False
            if got == name:
                return True
        return False


def write_case(folder: Path, url: str, captions: int) -> Path:
    """A run config over the first `captions` example captions, against the fake endpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = (REPO / "examples" / "captions.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    rows = (rows * (captions // max(len(rows), 1) + 1))[:captions]
    # repeated example rows get their own clip id so each stays a caption of its own
    out = [header]
    for i, row in enumerate(rows):
        out.append(row if i < len(lines) - 1 else _reclip(header, row, i))
    (folder / "captions.csv").write_text("\n".join(out) + "\n")
    cfg = {"name": "chaos", "input": "captions.csv", "corpus_dir": "corpus", "work_dir": "work",
           "regenerate_rounds": 1,
           "generate": {"model": "fake", "base_url": url, "cache_dir": "cache",
                        "candidates": 2, "shard_size": 4, "max_attempts": 2, "concurrency": 4}}
    (folder / "run.yaml").write_text(yaml.safe_dump(cfg))
    return folder / "run.yaml"


def _reclip(header: str, row: str, i: int) -> str:
    cols = header.split(",")
    first, sep, rest = row.partition(",")
    if cols and cols[0] in ("clip_id", "youtube_id", "file_name"):
        return f"{first}-{i}{sep}{rest}"
    return row


def start(config: Path) -> Run:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "robustclap.bench.chaos_run", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=REPO, env=env, start_new_session=True)
    run = Run(proc, time.perf_counter())
    threading.Thread(target=run.pump, daemon=True).start()
    return run


def run_to_end(config: Path, timeout: float = 600) -> Run:
    run = start(config)
    try:
        code = run.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(run.proc.pid, signal.SIGKILL)
        run.proc.wait()
        raise
    if code != 0:
        time.sleep(0.2)
        raise RuntimeError(f"run of {config} exited {code}: {''.join(run.output)[-3000:]}")
    return run


def phase_windows(run: Run) -> dict[str, float]:
    """How long each phase's first occurrence lasted in an unkilled run."""
    marks = run.phases
    out: dict[str, float] = {}
    for i, (name, t) in enumerate(marks[:-1]):
        out.setdefault(name, marks[i + 1][1] - t)
    return out


def kill_at(config: Path, target: str, delay: float, timeout: float = 600) -> bool:
    """Start a run, SIGKILL it `delay` s after it enters `target`; True if it was alive."""
    run = start(config)
    try:
        if not run.wait_phase(target, timeout):
            return False
        time.sleep(delay)
        alive = run.proc.poll() is None
        if alive:
            os.killpg(run.proc.pid, signal.SIGKILL)
        return alive
    finally:
        if run.proc.poll() is None:
            os.killpg(run.proc.pid, signal.SIGKILL)
        run.proc.wait()


def check_state(case: Path, reference: Path | None) -> list[str]:
    """The invariants after a rerun (empty = all hold)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from robustclap.contracts.schema import CANDIDATES, CORPUS, read_table
    from robustclap.corpus.versions import check_version

    problems: list[str] = []
    for f in sorted(case.rglob("*.parquet")):
        try:
            pq.read_table(f)
        except (OSError, pa.ArrowException) as exc:
            problems.append(f"unreadable {f.relative_to(case)}: {exc}")
    shards = layout.candidate_shards(layout.work_dirs(case / "work", "chaos")[0])
    keys = pa.concat_tables([read_table(CANDIDATES, s, ["caption_id", "level", "candidate"])
                             for s in shards]).to_pylist() if shards else []
    seen = {tuple(k.values()) for k in keys}
    if len(seen) != len(keys):
        problems.append(f"{len(keys) - len(seen)} duplicated (caption, level, candidate)")
    root = case / "corpus" / "chaos"
    latest = root / layout.LATEST
    if not latest.is_symlink():
        problems.append("no latest link")
        return problems
    target = root / os.readlink(latest)
    problems += [f"latest ({target.name}): {p}" for p in check_version(target, deep=True)]
    if reference is not None and not problems:
        got = read_table(CORPUS, target / layout.ACCEPTED_FILE).sort_by(
            [("caption_id", "ascending"), ("level", "ascending"), ("rank", "ascending")])
        want = read_table(CORPUS, reference / layout.ACCEPTED_FILE).sort_by(
            [("caption_id", "ascending"), ("level", "ascending"), ("rank", "ascending")])
        if not got.equals(want):
            problems.append(f"accepted corpus differs from the unkilled run "
                            f"({got.num_rows} vs {want.num_rows} rows)")
        cand = sum(pq.ParquetFile(s).metadata.num_rows for s in shards)
        ref_cand = sum(pq.ParquetFile(s).metadata.num_rows
                       for s in layout.candidate_shards(reference))
        if cand != ref_cand:
            problems.append(f"{cand} candidates, the unkilled run has {ref_cand}")
    return problems


def chaos(workdir: Path, kills: int, captions: int = 8, seed: int = 0,
          log=lambda msg: None) -> dict:  # noqa: ANN001 - a print-like callable
    """Run the reference and `kills` kill-and-rerun cycles; return what happened."""
    from robustclap.bench.fake_openai import FakeOpenAI

    rng = random.Random(seed)
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    cycles: list[dict] = []
    with FakeOpenAI() as llm:
        ref_cfg = write_case(workdir / "reference", llm.url, captions)
        t = time.perf_counter()
        ref = run_to_end(ref_cfg)
        ref_s = time.perf_counter() - t
        windows = phase_windows(ref)
        reference = Path(os.path.realpath(workdir / "reference" / "corpus" / "chaos"
                                          / layout.LATEST))
        log(f"reference run {ref_s:.1f} s, phases {windows}")
        for k in range(kills):
            target = PHASES[k % len(PHASES)]
            delay = rng.uniform(0, 0.9 * windows.get(target, 1.0))
            case = workdir / f"cycle-{k:02d}"
            cfg = write_case(case, llm.url, captions)
            landed = kill_at(cfg, target, delay)
            t = time.perf_counter()
            rerun_error = None
            try:
                run_to_end(cfg)
            except RuntimeError as exc:
                rerun_error = str(exc)[-500:]
            problems = [f"rerun failed: {rerun_error}"] if rerun_error else \
                check_state(case, reference)
            cycles.append({"cycle": k, "phase": target, "delay_s": round(delay, 2),
                           "killed": landed, "rerun_s": round(time.perf_counter() - t, 1),
                           "problems": problems})
            log(f"cycle {k}: {target} +{delay:.2f}s killed={landed} problems={problems}")
            if not problems:
                shutil.rmtree(case, ignore_errors=True)
    return {"reference_s": round(ref_s, 1), "phase_s": windows, "cycles": cycles}


def run(workdir: Path, **opts) -> Result:
    size = opts.get("size") or "default"
    kills = int(opts.get("kills") or DEFAULT_KILLS[size])
    captions = int(opts.get("captions") or 8)
    res = Result("chaos", "chaos: SIGKILL in generate / gate / publish, then rerun",
                 params={"kills": kills, "captions": captions, "candidates": 2,
                         "llm": "robustclap.bench.fake_openai (deterministic, served client)"})
    out = chaos(workdir, kills, captions, log=lambda m: print(f"[chaos] {m}", file=sys.stderr))
    cycles = out["cycles"]
    landed = [c for c in cycles if c["killed"]]
    recovered = [c for c in cycles if not c["problems"]]
    res.metrics.update({
        "reference_run_s": out["reference_s"], "phase_s": out["phase_s"],
        "kills_landed": len(landed),
        "kills_landed_per_phase": {p: sum(1 for c in landed if c["phase"] == p)
                                   for p in PHASES},
        "recovered": f"{len(recovered)}/{len(cycles)}",
        "failures": [c for c in cycles if c["problems"]],
        "cycles": cycles,
    })
    res.goals.append(Goal("kill cycles not recovered", float(len(cycles) - len(recovered)), 0))
    res.goals.append(Goal("kills that landed (process alive at SIGKILL)", float(len(landed)),
                          float(kills), at_least=True))
    return res
