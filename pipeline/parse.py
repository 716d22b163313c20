"""Validate an LLM reply against the paraphrase schema; say precisely why it is unusable."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator


class ParaphraseReply(BaseModel):
    """The JSON object the prompts ask for: {"paraphrase": "..."}."""

    model_config = ConfigDict(extra="ignore")
    paraphrase: str

    @field_validator("paraphrase")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("blank paraphrase")
        return value


REPLY_SCHEMA: dict = {
    "type": "object",
    "properties": {"paraphrase": {"type": "string", "minLength": 1, "maxLength": 600}},
    "required": ["paraphrase"],
    "additionalProperties": False,
}
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def parse_reply(text: str | None, finish_reason: str | None) -> tuple[str | None, str | None]:
    """Return (paraphrase, None) or (None, reason)."""
    if finish_reason == "length":
        return None, "truncated (finish_reason=length)"
    if text is None or not text.strip():
        return None, "empty_reply"
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        start, end = body.find("{"), body.rfind("}")
        if start < 0 or end <= start:
            return None, "invalid_json"
        try:
            obj = json.loads(body[start : end + 1])
        except json.JSONDecodeError:
            return None, "invalid_json"
    if not isinstance(obj, dict):
        return None, "schema_mismatch (not an object)"
    try:
        return ParaphraseReply.model_validate(obj).paraphrase, None
    except ValidationError as exc:
        first = exc.errors()[0]
        return None, f"schema_mismatch ({first['loc'][0] if first['loc'] else ''}: {first['msg']})"
