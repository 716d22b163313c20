"""Validate an LLM reply against the paraphrase schema; say precisely why it is unusable."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_PARAPHRASE_CHARS = 600


class ParaphraseReply(BaseModel):
    """The JSON object the prompts ask for: {"paraphrase": "..."}.

    Its JSON schema is what vLLM's structured output constrains replies to (REPLY_SCHEMA), so
    the model that parses a reply and the schema that shapes it cannot drift apart. Extra keys
    are ignored when parsing a free-form reply, and forbidden in the schema.
    """

    model_config = ConfigDict(extra="ignore",
                              json_schema_extra={"additionalProperties": False})
    paraphrase: str = Field(min_length=1, max_length=MAX_PARAPHRASE_CHARS)

    @field_validator("paraphrase")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("blank paraphrase")
        return value




def _constraints_only(node: object) -> object:
    """Titles and descriptions are for people, not constraints; left out, the schema (and
    every response-cache key that includes it) stays what it was when written by hand."""
    if isinstance(node, dict):
        return {k: _constraints_only(v) for k, v in node.items()
                if k not in ("title", "description")}
    if isinstance(node, list):
        return [_constraints_only(v) for v in node]
    return node


REPLY_SCHEMA: dict = _constraints_only(ParaphraseReply.model_json_schema())  # type: ignore[assignment]
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
