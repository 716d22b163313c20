"""Prompt templates shipped with robustclap: one YAML file per paraphrase level.

A template's version is the hash of its file content, recorded on every generated row, so a
changed template re-asks exactly the rows that depend on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from pipeline.errors import RobustclapError

LEVELS = (1, 2)


@dataclass(frozen=True)
class PromptTemplate:
    level: int
    system: str
    user: str
    version: str
    path: str

    def messages(self, caption: str) -> list[dict[str, str]]:
        """Chat messages: the long shared instruction first, the caption last."""
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.replace("{caption}", caption)},
        ]


def _parse(text: str, origin: str) -> PromptTemplate:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RobustclapError(f"prompt template {origin}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict) or not {"level", "system", "user"} <= set(data):
        raise RobustclapError(f"prompt template {origin}: needs the keys level, system, user")
    if "{caption}" not in str(data["user"]):
        raise RobustclapError(f"prompt template {origin}: the user text must contain {{caption}}")
    if data["level"] not in LEVELS:
        raise RobustclapError(f"prompt template {origin}: level must be 1 or 2")
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return PromptTemplate(int(data["level"]), str(data["system"]).strip(), str(data["user"]),
                          version, origin)


def load_template(level: int, prompt_dir: str | Path | None = None) -> PromptTemplate:
    """Load `level{N}.yaml` from `prompt_dir`, or the packaged default."""
    name = f"level{level}.yaml"
    if prompt_dir is not None:
        path = Path(prompt_dir) / name
        if not path.is_file():
            raise RobustclapError(f"prompt template not found: {path}")
        template = _parse(path.read_text(encoding="utf-8"), str(path))
    else:
        ref = resources.files("prompts") / name
        template = _parse(ref.read_text(encoding="utf-8"), f"prompts/{name}")
    if template.level != level:
        raise RobustclapError(f"{template.path}: declares level {template.level}, expected {level}")
    return template
