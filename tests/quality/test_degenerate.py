"""Degenerate-output measures on hand-written examples."""

from __future__ import annotations

import pytest

from robustclap.quality.degenerate import (
    EchoCheck,
    compile_patterns,
    count_sentences,
    english_share,
    is_echo,
    is_list_like,
    repeat_fraction,
    surface,
)
from robustclap.quality.scores_semantic import encoder_vocab
from robustclap.quality.text import normalise, words

CAPTION = "A dog barks loudly while a car passes by."


@pytest.fixture(scope="module")
def vocab():
    return encoder_vocab("packaged")


@pytest.fixture(scope="module")
def patterns(config):
    s = config.scorers.surface
    return compile_patterns(s.meta_patterns), EchoCheck(compile_patterns(s.echo_patterns))


def test_normalise_ignores_case_and_punctuation():
    assert normalise("A dog, barks!") == normalise("a DOG barks")
    assert words("It's 3 dogs.") == ["it's", "3", "dogs"]


def test_identical_up_to_case_and_punctuation(vocab, patterns):
    s = surface(CAPTION, "a dog barks loudly, while a car passes by", vocab, *patterns)
    assert s.norm_identical
    assert not surface(CAPTION, "While a car passes by, a dog barks loudly.", vocab,
                       *patterns).norm_identical


@pytest.mark.parametrize(
    ("text", "meta"),
    [
        ("Here is a paraphrase: while a car passes by, a dog barks loudly.", True),
        ("Sure! While a car passes by, a dog barks loudly.", True),
        ("Paraphrased caption: a hound yelps as a vehicle goes past.", True),
        ("I cannot paraphrase this caption.", True),
        ("While a car passes by, a dog barks loudly.", False),
        ("A hound yelps as a vehicle goes past.", False),
    ],
)
def test_meta_text(vocab, patterns, text, meta):
    assert surface(CAPTION, text, vocab, *patterns).meta_text is meta


def test_echo_of_prompt_words_and_of_the_caption(patterns):
    echo = patterns[1]
    assert is_echo(CAPTION, "Level 1: while a car passes by, a dog barks.", echo)
    assert is_echo(CAPTION, f"{CAPTION} Keep every sound source of the caption.", echo)
    assert not is_echo(CAPTION, "While a car passes by, a dog barks loudly.", echo)


def test_echo_of_the_prompt_text():
    prompt = "Keep every sound source and every sound event of the caption. Drop nothing."
    echo = EchoCheck([], frozenset({tuple(words(prompt))[i:i + 5] for i in range(8)}), 5)
    assert is_echo(CAPTION, "keep every sound source and every dog", echo)
    assert not is_echo(CAPTION, "While a car passes by, a dog barks loudly.", echo)


@pytest.mark.parametrize(
    ("text", "is_list"),
    [
        ("1. A door closes.\n2. Then a man speaks.", True),
        ("- a dog barks\n- a car passes", True),
        ('"A hound yelps." or "A canine barks."', True),
        ("A hound yelps / a canine barks as a car passes", True),
        ("While a car passes by, a dog barks loudly.", False),
        ("A car passes by. A dog barks loudly.", False),
    ],
)
def test_lists_and_alternatives(text, is_list):
    assert is_list_like(text) is is_list


def test_sentence_count():
    assert count_sentences("A car passes by. A dog barks. Then rain falls.") == 3
    assert count_sentences("A car passes by, a dog barks") == 1


def test_english_share_separates_english_from_other_languages_and_token_soup(vocab):
    assert english_share("Songbirds are chirping while crickets buzz nearby.", vocab) > 0.6
    assert english_share("Un perro ladra mientras pasa un coche.", vocab) < 0.6
    assert english_share("Собака лает, пока проезжает машина.", vocab) == 0.0
    assert english_share("ersonal Ma ob SSL kee vocab aph ase", vocab) < 0.6


def test_repetition():
    assert repeat_fraction(words("ion ion ion ion ion ion")) > 0.5
    assert repeat_fraction(words("a dog barks and a dog barks and a dog barks")) > 0.3
    assert repeat_fraction(words("a dog barks and another dog howls")) == 0.0


def test_length_ratio(vocab, patterns):
    s = surface("A dog barks.", "A dog barks loudly while a car passes by slowly.", vocab,
                *patterns)
    assert s.length_ratio == pytest.approx(10 / 3)
