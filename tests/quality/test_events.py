"""Sound-event alignment (events.py) on the failure shapes of issue 13."""

from __future__ import annotations

import json

import pytest

from robustclap.quality.events import align, scene

NEUTRAL = frozenset({"sound", "noise", "hear", "be", "have"})


@pytest.fixture(scope="module")
def aligned(nlp):
    def run(caption: str, candidate: str, matcher=None):
        return align(scene(nlp(caption), NEUTRAL), scene(nlp(candidate), NEUTRAL), matcher)
    return run


def test_faithful_restructure_aligns_completely(aligned):
    a = aligned("After the lighter clicks and lights the cigarette the man coughs.",
                "The man coughs after the lighter clicks and lights the cigarette.")
    assert (a.align_missing, a.align_added, a.align_roles) == (0, 0, 0)
    assert not (a.same_content or a.fragment or a.definition)


def test_sources_swapped_between_events(aligned):
    a = aligned("Birds chirp and a dog barks in the distance.",
                "The dogs chirp and a bird barks in the distance...")
    assert a.align_roles > 0
    assert {"action", "slot"} <= set(json.loads(a.alignment)["roles"][0])


def test_changed_event_is_missing_and_added(aligned):
    a = aligned("Crickets chirp steadily and an owl hoots once.",
                "The cricket chirps steadily, while the owl hops once.")
    detail = json.loads(a.alignment)
    assert detail["missing"] == ["hoot"] and detail["added"] == ["hop"]


def test_repeated_event_counts_as_added(aligned):
    a = aligned("A kettle whistles while someone chops vegetables on a wooden board.",
                "The kettle whistles while the person chops vegetables and the wooden board "
                "whistles.")
    assert "whistle" in json.loads(a.alignment)["added"]


def test_definition_story_and_fragment_shapes(aligned):
    assert aligned("An owl hoots over a constant chorus of crickets.",
                   "An owl is a creature with a voice made by a bird.").definition
    assert aligned("Steady rain drums on a metal roof.",
                   "Rain drums on a metal roof. The house is old.").extra_sentences == 1
    assert aligned("Sheep bleat while birds chirp in the background.",
                   "While sheep are bleating and birds are chirping in the background."
                   ).fragment
    assert aligned("A dog barks at a cat.", "At a cat, a dog barks and the").fragment


def test_near_copy_only_changes_function_words(aligned):
    assert aligned("wales sing to one another with water flowing in the background",
                   "wales sing with water flowing in the background.").same_content
    assert not aligned("A door closes and then a man speaks.",
                       "After a door closes, a man speaks.").same_content


def test_inflections_compounds_and_neutral_words_match(aligned):
    a = aligned("A person is very carefully rapping a gift for someone else.",
                "The person is very careful and is rapping a gift for someone else.")
    assert (a.align_missing, a.align_added) == (0, 0)  # carefully ~ careful by stem
    a = aligned("A clap of thunder coupled with the rain.", "A thunderclap coupled with the rain.")
    assert (a.align_missing, a.align_added) == (0, 0)
    a = aligned("A person is making noise by tapping their fingernails on a solid surface.",
                "The person is tapping their fingernails on a solid surface, which is creating "
                "a noise.")
    assert (a.align_missing, a.align_added) == (0, 0)  # "creating a noise" is neutral


def test_synonyms_come_only_from_the_matcher(aligned):
    caption, candidate = "A dog barks loudly.", "A canine barks loudly."
    assert aligned(caption, candidate).align_missing == 1
    a = aligned(caption, candidate, lambda c, o: {"canine": ("dog", 0.93)})
    assert (a.align_missing, a.align_synonyms) == (0, 1)
    assert a.align_synonym_sim == pytest.approx(0.93)


@pytest.mark.parametrize(("text", "fragment"), [
    ("As an automobile goes past, a hound yelps noisily.", False),
    ("While pieces of machinery knock against metal, someone dumps water out.", False),
    ("While sheep are bleating and birds chirp in the background", True),
    ("While the rain falls, and the wind", True),
])
def test_a_fronted_clause_with_a_main_clause_is_no_fragment(nlp, text, fragment):
    caption = scene(nlp("A dog barks."), frozenset())
    assert align(caption, scene(nlp(text), frozenset())).fragment is fragment
