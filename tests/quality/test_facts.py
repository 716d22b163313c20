"""Fact checks on hand-written positive and negative examples."""

from __future__ import annotations

import pytest

from robustclap.quality.facts import compare_facts, extract, numbers


def check(nlp, original: str, candidate: str, aligner=None):
    return compare_facts(extract(nlp(original)), extract(nlp(candidate)), aligner)


@pytest.mark.parametrize(
    ("original", "candidate", "swaps"),
    [
        ("A dog chases a cat.", "A cat chases a dog.", 1),
        ("A man talks to a woman.", "A woman talks to a man.", 1),
        ("Flights from New York to Florida", "Flights from Florida to New York", 1),
        ("He calls her.", "She calls him.", 1),
        ("A dog chases a cat.", "A cat is chased by a dog.", 0),  # passive keeps the roles
        ("A dog chases a cat.", "A dog is chasing a cat.", 0),
    ],
)
def test_role_swap(nlp, original, candidate, swaps):
    assert check(nlp, original, candidate).role_swaps == swaps


def test_role_swap_is_seen_through_synonyms_with_an_aligner(nlp):
    """Level 2: "canine"/"feline" line up with "dog"/"cat" through the word aligner."""
    def aligner(cand_words, orig_words):
        table = {"canine": "dog", "feline": "cat", "pursue": "chase"}
        return {w: table[w] for w in cand_words if table.get(w) in orig_words}

    assert check(nlp, "A dog chases a cat.", "A feline pursues a canine.", aligner).role_swaps == 1
    assert check(nlp, "A dog chases a cat.", "A canine pursues a feline.", aligner).role_swaps == 0


@pytest.mark.parametrize(
    ("original", "candidate", "diff"),
    [
        ("Two dogs bark.", "Three dogs bark.", 2),  # one count lost, one added
        ("Two dogs bark.", "Dogs bark.", 1),
        ("Two dogs bark.", "A pair of dogs bark.", 0),
        ("A bell rings 3 times.", "A bell rings three times.", 0),
        ("A bell rings twice.", "A bell rings once.", 1),
        ("A dog barks.", "One dog barks.", 0),  # "a" vs "one" is not a count change
    ],
)
def test_numbers(nlp, original, candidate, diff):
    assert check(nlp, original, candidate).number_diff == diff


def test_number_values(nlp):
    assert numbers(nlp("twenty five birds and 3.5 seconds")) == {"25": 1, "3.5": 1}


@pytest.mark.parametrize(
    ("original", "candidate", "diff"),
    [
        ("Birds chirp without stopping.", "Birds chirp and stop.", 1),
        ("No one is talking.", "Someone is talking.", 1),
        ("The dog does not bark.", "The dog barks.", 1),
        ("The dog does not bark.", "The dog doesn't bark.", 0),
        ("Rain falls with no wind.", "Rain falls without wind.", 0),
    ],
)
def test_negation(nlp, original, candidate, diff):
    assert check(nlp, original, candidate).negation_diff == diff


@pytest.mark.parametrize(
    ("original", "candidate", "bad"),
    [
        ("A door closes and then a man speaks.", "A man speaks after a door closes.", False),
        ("A door closes and then a man speaks.", "After a door closes, a man speaks.", False),
        ("A door closes and then a man speaks.", "A man speaks and then a door closes.", True),
        ("A door closes and then a man speaks.", "A man speaks before a door closes.", True),
        ("A door closes and then a man speaks.", "A door closes and a man speaks.", True),
        ("Footsteps followed by a door closing.", "A door closes after footsteps.", False),
        ("Footsteps followed by a door closing.", "A door closing followed by footsteps.", True),
        ("A man speaks while birds chirp.", "Birds chirp as a man speaks.", False),
        ("A man speaks while birds chirp.", "A man speaks, then birds chirp.", True),
        ("Birds chirp and a car passes.", "Birds chirp, then a car passes.", True),  # invented
        ("Birds chirp and a car passes.", "Birds chirp as a car passes.", False),
    ],
)
def test_temporal_order(nlp, original, candidate, bad):
    assert (check(nlp, original, candidate).order_violations > 0) is bad


def test_level2_checks_through_the_real_word_aligner(scoring):
    """Synonyms are aligned by single-word embeddings, so level-2 swaps are still seen."""
    pairs = [
        ("A dog chases a cat.", "A feline pursues a canine."),
        ("A dog chases a cat.", "A canine pursues a feline."),
        ("A man talks to a woman.", "A lady speaks to a guy."),
        ("A man talks to a woman.", "A guy speaks to a lady."),
        ("A door closes and then a man speaks.", "A male voice talks, then a gate shuts."),
        ("A door closes and then a man speaks.", "Once a gate shuts, a male voice talks."),
    ]
    s = scoring.score(pairs)
    assert [x["role_swaps"] > 0 for x in s[:4]] == [True, False, True, False]
    assert [x["order_violations"] > 0 for x in s[4:]] == [True, False]
