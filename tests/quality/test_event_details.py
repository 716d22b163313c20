"""Level-1 rewrites of the packaged SmolLM2 that keep every word but change the meaning
(issue 13, second round), and faithful ones that must stay accepted, through the whole gate."""

from __future__ import annotations

import json

import pytest

from robustclap.quality.decide import failed_gates
from robustclap.quality.events import align, scene

NEUTRAL = frozenset({"sound", "noise", "hear", "be", "have"})

# (caption, candidate, gate that must reject it): real level-1 output the gate used to accept
WRONG = [
    ("A large stringed instrument and a pair of violins are playing.",
     "A large stringed instrument is playing a pair of violins.", "event_roles"),
    ("Birds chirp and a dog barks in the distance.",
     "In the distance, the sound of a bird chirp and a dog barks.", "event_roles"),
    ("Sheep call out while birds chirp in the background.",
     "While a sheep calls out, a bird chirps in the background.", "event_roles"),
    ("A baby cries while a sheep bleats twice.",
     "The baby cries twice, while a sheep bleats once.", "event_roles"),
    ("Something is being drawn across a metal railing or heater repeatedly.",
     "The metal railing or heater is being drawn across repeatedly.", "event_roles"),
    ("A group of people is standing on the street near a busy freeway.",
     "A group of people are standing on a busy street near a freeway.", "event_roles"),
    ("Tapping and knocking is being done by water running down a drain.",
     "Water running down a drain is tapping and knocking is being done.", "fragment"),
]
GOOD = [
    ("Traffic rumbles past as a horn beeps two times.",
     "The horn beeps two times, as traffic rumbles past."),
    ("Water boils in a kettle and a knife taps a cutting board.",
     "In a kettle, water boils, and a knife taps a cutting board."),
    ("Waves crash onto the shore while seagulls call overhead.",
     "As waves crash onto the shore, seagulls call overhead."),
    ("A cricket intermittently chirps while vehicles are travelling in the distance.",
     "The cricket chirps intermittently, while vehicles are travelling in the distance."),
    ("A large object bangs rhythmically in a clothes dryer.",
     "In a clothes dryer, a large object bangs rhythmically."),
    ("Metal hits metal and makes various dinging noises.",
     "As metal hits metal, various dinging noises are created."),
]


@pytest.fixture(scope="module")
def level1(scoring, config):
    pairs = [(c, t) for c, t, _ in WRONG] + GOOD
    found = dict(zip(pairs, scoring.score(pairs), strict=True))
    return lambda caption, candidate: (found[(caption, candidate)],
                                       failed_gates(found[(caption, candidate)], config, 1))


@pytest.mark.parametrize(("caption", "candidate", "gate"), WRONG)
def test_wrong_meaning_is_rejected_by_the_named_gate(level1, caption, candidate, gate):
    scores, failed = level1(caption, candidate)
    assert gate in failed, (failed, scores["alignment"])


@pytest.mark.parametrize(("caption", "candidate"), GOOD)
def test_faithful_restructure_stays_accepted(level1, caption, candidate):
    scores, failed = level1(caption, candidate)
    assert failed == [], (failed, scores["alignment"])


@pytest.fixture(scope="module")
def roles(nlp):
    def run(caption: str, candidate: str) -> list[dict[str, str]]:
        a = align(scene(nlp(caption), NEUTRAL), scene(nlp(candidate), NEUTRAL))
        return json.loads(a.alignment)["roles"]
    return run


def test_findings_name_what_changed(roles):
    assert {"action": "bird", "slot": "number", "caption": "plur", "candidate": "sing"} in roles(
        "Birds chirp and a dog barks in the distance.",
        "In the distance, the sound of a bird chirp and a dog barks.")
    assert {"action": "busy", "slot": "attribute", "caption": "freeway",
            "candidate": "street"} in roles(WRONG[5][0], WRONG[5][1])
    counts = [r for r in roles(WRONG[3][0], WRONG[3][1]) if r["slot"] == "count"]
    assert {(r["action"], r["caption"], r["candidate"]) for r in counts} == {
        ("bleat", "2", ""), ("cry", "", "2"), ("bleat", "", "1")}


def test_same_looking_number_needs_a_determiner(roles):
    # "sheep" reads singular or plural from agreement alone: no claim without a determiner
    assert not roles("Sheep call out in a field.", "In a field, the sheep call out.")
    assert roles("Sheep call out in a field.", "In a field, a sheep calls out.")


def test_passive_keeps_source_and_object(roles):
    assert not roles("A dog chases a cat across a yard.",
                     "Across a yard, a cat is chased by a dog.")


def test_feedback_names_the_change(roles):
    from robustclap.quality.feedback import describe

    found = roles(WRONG[5][0], WRONG[5][1]) + roles(WRONG[1][0], WRONG[1][1])
    said = describe(["event_roles"], json.dumps({"roles": found}))
    assert "moves 'busy' from 'freeway' to 'street'" in said
    assert "makes 'bird' singular where the caption has it plural" in said
