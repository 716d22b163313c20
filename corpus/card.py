"""The dataset card (README.md) of a published version, in the form the Hugging Face Hub reads.

The YAML header carries what the Hub and `datasets` use: licence, language, task categories,
size and `configs:` (accepted / rejected / candidates, one file per split). The body says what
the data is, from which input, model, prompts and gates, with counts and every column's
meaning taken from `robustclap.contracts.schema`. It names no local path: a card is read elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from robustclap.contracts.schema import COLUMN_DOCS
from robustclap.corpus.hub_files import ConfigFiles, ordered_splits

# Licence of the captions of each known input (the paraphrases derive from them).
# (Hub license id, license_name, license_link); None fields are left out of the header.
SOURCE_LICENCES: dict[str, tuple[str, str | None, str | None]] = {
    "audiocaps": ("other", "audiocaps-academic-use",
                  "https://github.com/cdjkim/audiocaps"),
    "clotho": ("other", "clotho-tampere-university-non-commercial",
               "https://zenodo.org/records/4783391"),
}
TASK_CATEGORIES = ["sentence-similarity", "text-retrieval", "text-generation"]
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
          (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))
_CONFIG_DOCS = {
    "accepted": "accepted paraphrases, per (caption, level) ranked (rank 0 = best); "
                "this is what fine-tuning reads",
    "rejected": "every other candidate with the reason it was not accepted",
    "candidates": "every generated candidate as the LLM wrote it (failures included)",
}


def licence_fields(sources: list[str], override: str | None = None) -> dict[str, str]:
    """Header licence fields from the caption sources; `unknown` when a source is not known."""
    if override:
        return {"license": override}
    found = {SOURCE_LICENCES.get(s) for s in sources}
    if len(found) != 1 or None in found:
        return {"license": "unknown"}
    lic, name, link = found.pop()
    out = {"license": lic}
    if name:
        out["license_name"] = name
    if link:
        out["license_link"] = link
    return out


def size_category(rows: int) -> str:
    return next((label for limit, label in _SIZES if rows < limit), "n>10M")


def public_name(model: str) -> str:
    """A hub id or packaged name as is; a local folder by its last part (no machine paths)."""
    if model.startswith(("/", "~", ".")) or "\\" in model or Path(model).exists():
        return f"{Path(model).name} (local model)"
    return model


def header(manifest: dict, configs: list[ConfigFiles], sources: list[str],
           licence: str | None = None) -> dict:
    """The YAML header as a mapping (configs with no rows are left out: nothing to load)."""
    loadable = [c for c in configs if c.rows]
    accepted = next((sum(c.rows.values()) for c in configs if c.name == "accepted"), 0)
    return {
        "pretty_name": f"{manifest['name']} v{manifest['version']}",
        **licence_fields(sources, licence),
        "language": ["en"],
        "task_categories": TASK_CATEGORIES,
        "tags": ["paraphrase", "audio-captions", "clap", "robustclap", "synthetic"],
        "size_categories": [size_category(accepted)],
        "configs": [
            {"config_name": c.name, **({"default": True} if i == 0 else {}),
             "data_files": [{"split": s, "path": c.path(s)} for s in c.splits()]}
            for i, c in enumerate(loadable)
        ],
    }


def _prompt_versions(versions: dict | None) -> str:
    if not versions:
        return "–"
    return ", ".join(f"level {lv} `{v}`" for lv, v in sorted(versions.items()))


def _columns(config: ConfigFiles) -> list[str]:
    rows = ["| column | type | meaning |", "|---|---|---|"]
    for f in config.table.schema:
        rows.append(f"| `{f.name}` | {f.type} | {COLUMN_DOCS.get(f.name, '')} |")
    return rows


def render(manifest: dict, configs: list[ConfigFiles], sources: list[str], summary_md: str,
           licence: str | None = None) -> str:
    """The whole README.md: YAML header, description, counts, columns, gate summary."""
    c = manifest["counts"]
    head = yaml.safe_dump(header(manifest, configs, sources, licence), sort_keys=False)
    input_name = Path(str((manifest.get("source") or {}).get("input") or "–")).name
    splits = ordered_splits({s for cf in configs for s in cf.splits()})
    lines = [
        "---", head.rstrip(), "---", "",
        f"# {manifest['name']} v{manifest['version']}", "",
        "Paraphrases of audio captions for multi-view CLAP fine-tuning (RobustCLAP, "
        "arXiv 2410.16505). Level 1 restructures a caption and keeps its words; level 2 "
        "restructures it and changes them. Every candidate was judged by robustclap's quality "
        "gates. The splits are the input's caption splits (val is named validation).", "",
        "```python",
        "from datasets import load_dataset",
        'accepted = load_dataset("PATH_OR_REPO")               # default config',
        'rejected = load_dataset("PATH_OR_REPO", "rejected")   # with reasons',
        "```", "",
        "| | |", "|---|---|",
        f"| input | `{input_name}` ({', '.join(sources) or '–'}) |",
        f"| model | `{public_name(str(manifest.get('model')))}` (revision "
        f"`{manifest.get('model_revision')}`) |",
        f"| prompt versions | {_prompt_versions(manifest.get('prompt_versions'))} |",
        f"| gate version | `{manifest.get('gate_version')}` |",
        f"| captions | {c['captions']} |",
        f"| candidates | {c['candidates']} (LLM ok {c['llm_ok']}, failed {c['llm_failed']}) |",
        f"| accepted paraphrases | {c['accepted']} |",
        f"| (caption, level) with an accepted paraphrase | {c['pass_rate']:.1%} |",
        f"| regeneration rounds | {manifest.get('rounds')} |",
        f"| created | {manifest['created']} |", "",
        "## Configs and splits", "",
        "| config | what | " + " | ".join(splits) + " |",
        "|---|---|" + "---|" * len(splits),
    ]
    for cf in configs:
        lines.append(f"| `{cf.name}` | {_CONFIG_DOCS.get(cf.name, '')} | "
                     + " | ".join(str(cf.rows.get(s, 0)) for s in splits) + " |")
    for cf in configs:
        lines += ["", f"## Columns of `{cf.name}`", "", *_columns(cf)]
    if summary_md.strip():  # the gate's own summary, one heading level down
        lines += ["", *(("#" + x) if x.startswith("#") else x
                        for x in summary_md.strip().splitlines())]
    return "\n".join(lines) + "\n"


def body(readme: str) -> str:
    """The card without its YAML header (for places that show markdown, e.g. Prefect)."""
    if readme.startswith("---\n"):
        end = readme.find("\n---\n", 4)
        if end >= 0:
            return readme[end + 5:].lstrip("\n")
    return readme
