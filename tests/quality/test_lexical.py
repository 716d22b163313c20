"""Level-aware wording on hand-written level-1 and level-2 examples."""

from __future__ import annotations

from robustclap.quality.lexical import compare_wording, content_lemmas


def wording(nlp, a: str, b: str):
    return compare_wording(nlp(a), nlp(b))


def test_content_lemmas_are_lemmatised_and_skip_function_words(nlp):
    assert content_lemmas(nlp("The dogs were barking loudly at two cars.")) == [
        "dog", "bark", "loudly", "car"
    ]


def test_function_word_only_change_is_no_restructure(nlp):
    w = wording(nlp, "A dog barks loudly while a car passes by.",
                "The dog barks loudly as the car passes by.")
    assert w.content_recall == 1.0
    assert w.token_edit > 0.3  # the surface did change ...
    assert w.structure_edit == 0.0  # ... but only in function words


def test_level1_restructure_keeps_vocabulary(nlp):
    w = wording(nlp, "A dog barks loudly while a car passes by.",
                "While a car passes by, a dog barks loudly.")
    assert w.content_recall == 1.0
    assert w.content_novelty == 0.0
    assert w.structure_edit > 0.5


def test_level2_synonyms_replace_content_words(nlp):
    w = wording(nlp, "A dog barks loudly while a car passes by.",
                "As a vehicle drives past, a hound yelps noisily.")
    assert w.content_recall <= 0.2
    assert w.content_novelty >= 0.8


def test_inflection_is_not_new_vocabulary(nlp):
    w = wording(nlp, "A dog barks.", "Dogs are barking.")
    assert w.content_recall == 1.0
    assert w.content_novelty == 0.0
