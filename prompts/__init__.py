"""Prompt templates shipped with robustclap: one YAML file per paraphrase level.

A template has a shared instruction (`system`), optional worked examples (`examples`: caption
and paraphrase, sent as earlier chat turns), the caption turn (`user`, with `{caption}`) and an
optional `feedback` turn (with `{problems}`) for regeneration rounds: the model sees its own
rejected rewrite and what the gate found. Everything before the caption is the same for every
request, so the prefix cache holds it. A template's version is the hash of its file content,
recorded on every generated row, so a changed template re-asks exactly the rows that depend on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from robustclap.contracts.config import parse_yaml
from robustclap.contracts.errors import RobustclapError

LEVELS = (1, 2)


@dataclass(frozen=True)
class PromptTemplate:
    level: int
    system: str
    user: str
    version: str
    path: str
    examples: tuple[tuple[str, str], ...] = ()
    feedback: str | None = None

    def _turn(self, caption: str) -> dict[str, str]:
        return {"role": "user", "content": self.user.replace("{caption}", caption)}

    @staticmethod
    def _answer(paraphrase: str) -> dict[str, str]:
        return {"role": "assistant", "content": json.dumps({"paraphrase": paraphrase})}

    def messages(self, caption: str, previous: str | None = None,
                 problems: str | None = None) -> list[dict[str, str]]:
        """Chat messages: the shared instruction and examples first, the caption last; with
        `previous` and `problems`, the rejected rewrite and the gate's findings follow."""
        out = [{"role": "system", "content": self.system}]
        for ex_caption, ex_paraphrase in self.examples:
            out += [self._turn(ex_caption), self._answer(ex_paraphrase)]
        out.append(self._turn(caption))
        if previous is not None and problems and self.feedback:
            out += [self._answer(previous),
                    {"role": "user", "content": self.feedback.replace("{problems}", problems)
                     .replace("{caption}", caption).strip()}]
        return out


def _parse(text: str, origin: str) -> PromptTemplate:
    data = parse_yaml(text, f"prompt template {origin}")  # strict: a key written twice is refused
    if not isinstance(data, dict) or not {"level", "system", "user"} <= set(data):
        raise RobustclapError(f"prompt template {origin}: needs the keys level, system, user")
    if "{caption}" not in str(data["user"]):
        raise RobustclapError(f"prompt template {origin}: the user text must contain {{caption}}")
    if data["level"] not in LEVELS:
        raise RobustclapError(f"prompt template {origin}: level must be 1 or 2")
    unknown = set(data) - {"level", "system", "user", "examples", "feedback"}
    if unknown:
        raise RobustclapError(f"prompt template {origin}: unknown keys {sorted(unknown)}")
    examples = data.get("examples") or []
    if not isinstance(examples, list) or not all(
        isinstance(e, dict) and set(e) == {"caption", "paraphrase"}
        and all(isinstance(v, str) and v.strip() for v in e.values()) for e in examples
    ):
        raise RobustclapError(f"prompt template {origin}: examples must be a list of "
                              "{caption: ..., paraphrase: ...} with non-empty text")
    feedback = data.get("feedback")
    if feedback is not None and (not isinstance(feedback, str) or "{problems}" not in feedback):
        raise RobustclapError(f"prompt template {origin}: feedback must contain {{problems}}")
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    return PromptTemplate(int(data["level"]), str(data["system"]).strip(), str(data["user"]),
                          version, origin,
                          tuple((e["caption"].strip(), e["paraphrase"].strip()) for e in examples),
                          feedback)


def load_template(level: int, prompt_dir: str | Path | None = None) -> PromptTemplate:
    """Load `level{N}.yaml` from `prompt_dir`, or the packaged default."""
    name = f"level{level}.yaml"
    if prompt_dir is not None:
        path = Path(prompt_dir) / name
        if not path.is_file():
            raise RobustclapError(f"prompt template not found: {path}")
        template = _parse(path.read_text(encoding="utf-8"), str(path))
    else:
        ref = resources.files("robustclap.prompts") / name
        template = _parse(ref.read_text(encoding="utf-8"), f"prompts/{name}")
    if template.level != level:
        raise RobustclapError(f"{template.path}: declares level {template.level}, expected {level}")
    return template
