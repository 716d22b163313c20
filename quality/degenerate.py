"""Degenerate outputs: the ways a small or misbehaving LLM fails that meaning scores can miss.

Empty or unchanged text, chatter about the task ("Here is a paraphrase: ..."), the prompt or
caption echoed back, several alternatives or a list instead of one caption, another language or
token soup, loops of repeated words, and lengths far from the original's. Every check is a
number or flag computed from the text pair alone; thresholds are applied later by the gate.
The phrase patterns for meta text and echo live in the gate config, so they are versioned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from robustclap.quality.text import clean, normalise, words

_LETTERS = re.compile(r"[^\W\d_]+")
_ENUMERATION = re.compile(r"(?:^|\n)\s*(?:\d+[.)]|[-*•]|\(?[a-hA-H]\))\s+\S")
_QUOTED_ALTERNATIVES = re.compile(r"[\"“][^\"”]+[\"”]\s*(?:,|;|/|\bor\b)\s*[\"“]", re.I)
_SLASH = re.compile(r"\S\s+/\s+\S")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s+[\"“(]?[A-Z]|\s*$)")


@dataclass(frozen=True)
class Surface:
    norm_identical: bool  # same words as the original, ignoring case and punctuation
    length_ratio: float  # candidate words / original words
    repeat_frac: float  # share of the text that repeats itself (bigrams, or runs of a word)
    english_share: float  # share of words found whole in the English vocabulary
    n_sentences: int
    list_like: bool  # several lines, an enumeration, or quoted/slashed alternatives
    meta_text: bool  # talk about the task rather than a caption
    echo: bool  # the prompt or the original caption repeated with extra text


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    return [re.compile(p, re.IGNORECASE | re.MULTILINE) for p in patterns]


def repeat_fraction(tokens: list[str]) -> float:
    """Share of word bigrams that occurred earlier, or of a run of one repeated word."""
    if not tokens:
        return 0.0
    run = longest = 1
    for a, b in zip(tokens, tokens[1:], strict=False):
        run = run + 1 if a == b else 1
        longest = max(longest, run)
    bigrams = list(zip(tokens, tokens[1:], strict=False))
    repeated = len(bigrams) - len(set(bigrams))
    share = repeated / len(bigrams) if bigrams else 0.0
    return max(share, (longest - 1) / len(tokens))


# English inflectional endings (a closed grammatical class): "barks", "chirping", "dripped"
# are known when their stem is; the word-piece vocabulary lists few inflected forms.
_ENDINGS = ("s", "es", "ed", "d", "ing", "ly", "er", "est", "ies", "ied")


def known_word(word: str, vocab: frozenset[str]) -> bool:
    """A vocabulary word, or one of its inflected forms."""
    if word in vocab:
        return True
    for end in _ENDINGS:
        stem = word[: -len(end)]
        if not word.endswith(end) or len(stem) < 2:
            continue
        if stem in vocab or stem + "e" in vocab:
            return True
        if end in ("ies", "ied") and stem + "y" in vocab:
            return True
        if len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in vocab:  # "dripped"
            return True
    return False


def english_share(text: str, vocab: frozenset[str]) -> float:
    """Share of letter sequences that are words of the vocabulary (0 with no letters).

    The vocabulary is the sentence encoder's word-piece vocabulary, so no list is written by
    hand; other languages, other scripts and token soup split into pieces and score low.
    """
    found = _LETTERS.findall(clean(text).lower())
    if not found:
        return 0.0
    return sum(known_word(w, vocab) for w in found) / len(found)


def count_sentences(text: str) -> int:
    return max(1, len(_SENTENCE_END.findall(text.strip()))) if text.strip() else 0


def is_list_like(text: str) -> bool:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return (
        len(lines) > 1
        or bool(_ENUMERATION.search(text))
        or bool(_QUOTED_ALTERNATIVES.search(text))
        or bool(_SLASH.search(text))
    )


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)} if n > 0 else set()


@dataclass(frozen=True)
class EchoCheck:
    """What counts as the prompt coming back: phrase patterns and the prompts' own n-grams."""

    patterns: list[re.Pattern[str]]
    prompt_ngrams: frozenset[tuple[str, ...]] = frozenset()
    n: int = 0


def is_echo(original: str, candidate: str, echo: EchoCheck) -> bool:
    """The prompt's wording, or the whole original caption plus extra text."""
    if any(p.search(candidate) for p in echo.patterns):
        return True
    orig_words, cand_words = words(original), words(candidate)
    if echo.prompt_ngrams and (
        (ngrams(cand_words, echo.n) & echo.prompt_ngrams) - ngrams(orig_words, echo.n)
    ):
        return True
    orig, cand = " ".join(orig_words), " ".join(cand_words)
    return bool(orig) and orig in cand and len(cand_words) >= len(orig_words) + 3


def surface(original: str, candidate: str, vocab: frozenset[str],
            meta: list[re.Pattern[str]], echo: EchoCheck) -> Surface:
    """All degenerate-output measures of one candidate against its original."""
    cand_words = words(candidate)
    orig_words = words(original)
    return Surface(
        norm_identical=normalise(original) == normalise(candidate),
        length_ratio=len(cand_words) / max(1, len(orig_words)),
        repeat_frac=repeat_fraction(cand_words),
        english_share=english_share(candidate, vocab),
        n_sentences=count_sentences(candidate),
        list_like=is_list_like(candidate),
        meta_text=any(p.search(candidate) for p in meta),
        echo=is_echo(original, candidate, echo),
    )
