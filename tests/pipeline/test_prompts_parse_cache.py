import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.llm.cache import ResponseCache, cache_key
from robustclap.llm.types import LLMResponse
from robustclap.pipeline.generate import derive_seed
from robustclap.pipeline.parse import parse_reply
from robustclap.prompts import load_template


def test_templates_put_the_shared_instruction_first_and_the_caption_last():
    for level in (1, 2):
        t = load_template(level)
        msgs = t.messages("A dog barks twice.")
        assert msgs[0]["role"] == "system" and "A dog barks twice." not in msgs[0]["content"]
        assert msgs[-1]["content"].endswith("A dog barks twice.")
        assert len(msgs[0]["content"]) > 5 * len(msgs[-1]["content"])
        assert "JSON" in t.system and len(t.version) == 12
    assert load_template(1).version != load_template(2).version


def test_template_version_is_its_content_hash(tmp_path):
    base = (load_template(1).path, load_template(1).version)
    src = tmp_path / "level1.yaml"
    src.write_text('level: 1\nsystem: "Rewrite."\nuser: "Caption: {caption}"\n')
    v1 = load_template(1, tmp_path).version
    src.write_text('level: 1\nsystem: "Rewrite it."\nuser: "Caption: {caption}"\n')
    assert load_template(1, tmp_path).version != v1 != base[1]
    src.write_text('level: 1\nsystem: "x"\nuser: "no placeholder"\n')
    with pytest.raises(RobustclapError, match="must contain"):
        load_template(1, tmp_path)
    with pytest.raises(RobustclapError, match="not found"):
        load_template(2, tmp_path)
    # read as strictly as every config: a key written twice is refused, not silently the last
    src.write_text('level: 1\nsystem: "a"\nsystem: "b"\nuser: "Caption: {caption}"\n')
    with pytest.raises(RobustclapError, match="level1.yaml is not valid YAML: .*duplicate key"):
        load_template(1, tmp_path)
    src.write_text('level: [1\n')
    with pytest.raises(RobustclapError, match="prompt template .* is not valid YAML"):
        load_template(1, tmp_path)


@pytest.mark.parametrize("text,finish,expected,reason", [
    ('{"paraphrase": "A dog is barking."}', "stop", "A dog is barking.", None),
    ('```json\n{"paraphrase": "  two  dogs bark "}\n```', "stop", "two dogs bark", None),
    ('Sure! {"paraphrase": "Rain falls."} Hope it helps', "stop", "Rain falls.", None),
    ('{"paraphrase": "A dog', "length", None, "truncated (finish_reason=length)"),
    ("", "stop", None, "empty_reply"),
    (None, None, None, "empty_reply"),
    ("no json here", "stop", None, "invalid_json"),
    ('["a"]', "stop", None, "schema_mismatch (not an object)"),
    ('{"text": "x"}', "stop", None, "schema_mismatch (paraphrase: Field required)"),
    ('{"paraphrase": "   "}', "stop", None, "schema_mismatch"),
])
def test_parse_reply(text, finish, expected, reason):
    got, why = parse_reply(text, finish)
    assert got == expected
    if reason:
        assert why.startswith(reason)
    else:
        assert why is None


def test_seed_depends_on_row_and_attempt():
    seeds = {derive_seed("a dog", 1, 0, a) for a in range(5)}
    assert len(seeds) == 5
    assert derive_seed("a dog", 1, 0, 0) == derive_seed("a dog", 1, 0, 0)
    assert derive_seed("a dog", 1, 0, 0) != derive_seed("a dog", 2, 0, 0)
    assert all(0 <= s < 2**31 for s in seeds)


def test_cache_roundtrip_and_errors_not_cached(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    k1, k2 = cache_key(text="a", seed=1), cache_key(text="a", seed=2)
    assert k1 != k2
    cache.put(k1, LLMResponse("{}", "stop", 10, 2, 0.1))
    cache.put(k2, LLMResponse(None, None, error="transport: refused", retryable=True))
    got = cache.get_many([k1, k2])
    assert list(got) == [k1] and got[k1].completion_tokens == 2
    cache.close()
    assert len(ResponseCache(tmp_path / "c.sqlite")) == 1  # persisted
