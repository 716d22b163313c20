"""One paraphrase run, stage by stage, in a process that may be SIGKILLed at any moment.

`python -m robustclap.bench.chaos_run CONFIG` runs what the `robustclap-paraphrase` flow runs
(the same
functions: ingest + generate, gate, regeneration rounds, publish) without the Prefect engine,
whose temporary server start (~30 s) would dominate twenty kill-and-rerun cycles on 2 cores.
It prints `PHASE <name>` before each stage so the killer can aim at generate, gate or publish.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from robustclap.contracts import layout
from robustclap.contracts.stage import StageStats
from robustclap.corpus.publish import publish
from robustclap.corpus.stage_publish import publish_info
from robustclap.flows.config import RunConfig, load_run_config
from robustclap.pipeline.ingest import ColumnMapping

PHASES = ("generate", "gate", "publish")


def phase(name: str) -> None:
    print(f"PHASE {name}", flush=True)


def run_stages(rc: RunConfig) -> dict:
    """ingest + generate → gate → ≤ regenerate_rounds × (generate + gate) → publish."""
    from robustclap.llm.engine import LazyBackend
    from robustclap.llm.model_ref import resolve_llm_model
    from robustclap.pipeline.runner import run_generate
    from robustclap.quality.config import load_config
    from robustclap.quality.gate import run_gate

    gen_dir, gate_dir = layout.work_dirs(rc.work_dir, rc.name)
    for f in layout.regeneration_shards(gen_dir):  # as the flow: rounds ≥ 1 are redone
        f.unlink()
    gate_cfg = load_config(rc.gate_config)
    mapping = ColumnMapping(rc.caption_col, rc.clip_col, rc.split_col)
    score_cache = layout.work_score_cache(rc.work_dir, rc.name)
    model = resolve_llm_model(rc.generate)  # as the flow: once, for every round
    engine = LazyBackend(rc.generate, gen_dir, model)  # and one engine for every round

    def generate(round_: int, regenerate: Path | None) -> StageStats:
        phase("generate")
        return run_generate(rc.input, gen_dir, rc.generate, fmt=rc.format, split=rc.split,
                            mapping=mapping, max_clips=rc.max_clips, regenerate=regenerate,
                            round_=round_, model=model, backend=engine)

    def gate():
        phase("gate")
        return run_gate(gen_dir, gate_dir, gate_cfg, cache_path=score_cache)

    with engine:
        rounds = [generate(0, None)]
        result = gate()
        for r in range(1, rc.regenerate_rounds + 1):
            if result.counts["regenerate"] == 0:
                break
            rounds.append(generate(r, gate_dir / layout.REGENERATE_FILE))
            result = gate()
    phase("publish")
    return publish(rc.corpus_root(), rc.name, gen_dir, gate_dir, publish_info(rounds, result))


def main(argv: list[str]) -> int:
    published = run_stages(load_run_config(argv[0]))
    phase("done")
    print(json.dumps({"version": published["version"], "path": published["path"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
