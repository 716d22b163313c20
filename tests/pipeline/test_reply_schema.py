"""The reply schema vLLM constrains output to is generated from the pydantic model that parses
replies: what one allows, the other accepts."""

from __future__ import annotations

import json

import jsonschema
import pytest

from robustclap.pipeline.parse import (
    MAX_PARAPHRASE_CHARS,
    REPLY_SCHEMA,
    ParaphraseReply,
    parse_reply,
)


def test_schema_comes_from_the_model() -> None:
    fields = REPLY_SCHEMA["properties"]["paraphrase"]
    info = ParaphraseReply.model_fields["paraphrase"]
    assert fields["type"] == "string" and REPLY_SCHEMA["required"] == ["paraphrase"]
    limits = {type(m).__name__: m for m in info.metadata}
    assert fields["maxLength"] == limits["MaxLen"].max_length == MAX_PARAPHRASE_CHARS
    assert fields["minLength"] == limits["MinLen"].min_length == 1
    assert REPLY_SCHEMA["additionalProperties"] is False
    assert "title" not in json.dumps(REPLY_SCHEMA)  # no display text in cache keys


@pytest.mark.parametrize("obj", [
    {"paraphrase": "A dog barks twice."},
    {"paraphrase": ""},
    {"paraphrase": "x" * (MAX_PARAPHRASE_CHARS + 1)},
    {"paraphrase": 3},
    {},
])
def test_schema_and_parser_agree(obj: dict) -> None:
    allowed = jsonschema.Draft202012Validator(REPLY_SCHEMA).is_valid(obj)
    text, reason = parse_reply(json.dumps(obj), "stop")
    assert (text is not None) == allowed, (obj, reason)
