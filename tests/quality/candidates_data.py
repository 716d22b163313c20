"""Hand-written candidates for the end-to-end gate tests (a CANDIDATES table built in memory).

Each caption gets good and bad level-1 and level-2 paraphrases, gibberish of the kind the tiny
random LLM writes, and failed generation rows. `expect` says what the gate must do with it.
"""

from __future__ import annotations

from robustclap.contracts.schema import CANDIDATES, col, status

GOOD = "good"  # must be accepted (when within the per-level quota)
BAD = "bad"  # must be rejected; the value names a gate it must fail
GIBBERISH = "gibberish"

CAPTIONS = {
    "c1": ("A dog barks loudly while a car passes by.", "clip1"),
    "c2": ("A door closes and then a man speaks.", "clip2"),
    "c3": ("Two birds chirp without stopping.", "clip3"),
    "c4": ("A cat chases a dog across the yard.", "clip4"),
}

# (caption id, level, paraphrase or None for a failed row, expectation, gate it must fail)
ROWS: list[tuple[str, int, str | None, str, str | None]] = [
    ("c1", 1, "While a car passes by, a dog barks loudly.", GOOD, None),
    ("c1", 1, "The dog barks loudly as the car passes by.", BAD, "restructure"),
    ("c1", 1, "A dog barks loudly while a car passes by", BAD, "identical"),
    ("c1", 1, "Here is a paraphrase: while a car passes by, a dog barks loudly.", BAD, "meta_text"),
    ("c1", 1, "aph ase dog capt ion ion kee p the the the the vocab", GIBBERISH, None),
    # a faithful rewrite that single-word MiniLM similarity cannot align (bark ~ yelp is not
    # a mutual best match): level 2 loses it rather than guess (precision first)
    ("c1", 2, "As an automobile goes past, a hound yelps noisily.", BAD, "event_missing"),
    ("c1", 2, "A car passes by while a dog barks loudly.", BAD, "vocabulary_change"),
    ("c1", 2, None, BAD, "generation_failed"),
    ("c2", 1, "After a door closes, a man speaks.", GOOD, None),
    ("c2", 1, "A man speaks and then a door closes.", BAD, "temporal_order"),
    ("c2", 1, "A man speaks before a door closes.", BAD, "temporal_order"),
    ("c2", 1, "1. A door closes.\n2. Then a man speaks.", BAD, "list"),
    ("c2", 2, "A door closes, then a guy talks.", GOOD, None),
    ("c2", 2, "Once a gate shuts, a male voice talks.", BAD, "event_added"),  # "voice" is new
    ("c2", 2, "Level 2 paraphrase with synonyms: a gate shuts, then a guy talks.", BAD, "echo"),
    ("c2", 2, "Ein Mann spricht, nachdem eine Tür geschlossen wurde.", BAD, "non_english"),
    ("c3", 1, "Without stopping, two birds chirp.", GOOD, None),
    ("c3", 1, "Three birds chirp without stopping.", BAD, "numbers"),
    ("c3", 1, "Two birds are chirping and then stopping.", BAD, "negation"),
    ("c3", 1, "ersonal Ma ob SSL infinitely ersonal Ma ob SSL infinitely", GIBBERISH, None),
    ("c3", 2, "Several songbirds tweet without pause.", BAD, "numbers"),
    ("c3", 2, "", BAD, "empty"),
    ("c4", 1, "A dog is chased across the yard by a cat.", GOOD, None),
    ("c4", 1, "A dog chases a cat across the yard.", BAD, "role_swap"),
    ("c4", 1, None, BAD, "generation_failed"),
    ("c4", 2, "}{ \"para\": ion ion ion ion ion ion", GIBBERISH, None),
]


def candidate_rows() -> list[dict]:
    """The rows as a CANDIDATES table (every column filled like `robustclap generate` does)."""
    rows = []
    counters: dict[tuple[str, int], int] = {}
    for caption_id, level, text, _, _ in ROWS:
        caption, clip = CAPTIONS[caption_id]
        index = counters.get((caption_id, level), 0)
        counters[(caption_id, level)] = index + 1
        failed = text is None
        rows.append({
            col.caption_id: caption_id, col.clip_id: clip, col.split: "train",
            col.source: "test", col.caption: caption, col.level: level, col.candidate: index,
            col.input_text: caption, col.paraphrase: text,
            col.status: status.failed if failed else status.ok,
            col.fail_reason: "invalid_json" if failed else None,
            col.raw_reply: "{garbage" if failed else f'{{"paraphrase": "{text}"}}',
            col.model: "test-llm", col.model_revision: "0", col.prompt_version: "p1",
            col.sampling: "{}", col.seed: 1, col.attempt: 1,
            col.finish_reason: "stop", col.prompt_tokens: 10, col.completion_tokens: 10,
            col.latency_s: 0.1, col.from_cache: False, col.run_id: "r1",
        })
    for row in rows:  # nullable columns a newer CANDIDATES schema adds (e.g. feedback) stay empty
        for name in CANDIDATES.columns:
            row.setdefault(name, None)
    return rows


# Scores of a level-1 candidate that passes every gate except, as each test sets them, the two
# encoders' (used by the judge and calibrate-candidates tests).
PASSING_STRUCTURE = {
    "content_recall": 1.0, "content_novelty": 0.0, "token_edit": 0.5, "structure_edit": 0.5,
    "number_diff": 0, "negation_diff": 0, "order_violations": 0, "role_swaps": 0,
    "reattachments": 0, "norm_identical": False, "length_ratio": 1.0, "repeat_frac": 0.0,
    "english_share": 1.0, "n_sentences": 1, "list_like": False, "meta_text": False,
    "echo": False, "align_missing": 0, "align_added": 0, "align_synonyms": 0,
    "align_synonym_sim": 1.0, "align_roles": 0, "extra_sentences": 0, "definition": False,
    "fragment": False, "same_content": False, "alignment": "{}",
}
