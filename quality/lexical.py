"""Level-aware wording: which content words a candidate keeps, adds, and how much it moves.

Level 1 must keep the caption's vocabulary but change its surface form; level 2 must replace
most content words. Content words are spaCy lemmas of nouns, proper nouns, verbs, adjectives and
adverbs (adverbs that are stop words, such as "very" or "then", are structure, not content), so
"barks" and "barking" count as the same word and no hand-made synonym lists are involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from robustclap.quality.text import edit_ratio

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV"})


@lru_cache(maxsize=1 << 16)
def _has_letter(text: str) -> bool:
    """Cached: every structure check asks it of every token, char by char."""
    return any(c.isalpha() for c in text)


def is_content(token: Token) -> bool:
    """A token that carries the caption's content (not a function word or a number)."""
    if token.pos_ not in CONTENT_POS or token.like_num or not _has_letter(token.text):
        return False
    return not (token.pos_ == "ADV" and token.is_stop)


def lemma(token: Token) -> str:
    return token.lemma_.lower()


def content_lemmas(doc: Doc) -> list[str]:
    """Content lemmas in text order."""
    return [lemma(t) for t in doc if is_content(t)]


def surface_tokens(doc: Doc) -> list[str]:
    """Lower-cased tokens without punctuation or spaces: the surface form."""
    return [t.lower_ for t in doc if not (t.is_punct or t.is_space)]


FUNCTION = "<function>"


def structure_tokens(doc: Doc) -> list[str]:
    """Surface tokens with every function word folded into one symbol and words lemmatised, so
    that "A dog barks while a car passes" -> "The dog barked as the car passed" is no change."""
    return [lemma(t) if is_content(t) else FUNCTION for t in doc if not (t.is_punct or t.is_space)]


@dataclass(frozen=True)
class Wording:
    """How a candidate's wording relates to the original's."""

    content_recall: float  # share of the original's content lemmas the candidate keeps
    content_novelty: float  # share of the candidate's content lemmas that are new
    token_edit: float  # token-level edit distance / length: any surface change
    structure_edit: float  # the same, but swapping one function word for another or changing a
    # word's inflection is free: what is left is reordering, insertion and deletion


@dataclass(frozen=True)
class Wordforms:
    """A text's token sequences that the wording comparison reads, built in one pass so that
    an original compared with several candidates is walked once."""

    content: list[str]
    surface: list[str]
    structure: list[str]


def wordforms(doc: Doc) -> Wordforms:
    content, surface, structure = [], [], []
    for t in doc:
        keep = is_content(t)
        if keep:
            content.append(lemma(t))
        if not (t.is_punct or t.is_space):
            surface.append(t.lower_)
            structure.append(content[-1] if keep else FUNCTION)
    return Wordforms(content, surface, structure)


def compare_wording(original: Doc | Wordforms, candidate: Doc | Wordforms) -> Wording:
    """Compare the two texts' content lemmas and surface tokens."""
    orig = original if isinstance(original, Wordforms) else wordforms(original)
    cand = candidate if isinstance(candidate, Wordforms) else wordforms(candidate)
    orig_set, cand_set = set(orig.content), set(cand.content)
    recall = len(orig_set & cand_set) / len(orig_set) if orig_set else 1.0
    novelty = len(cand_set - orig_set) / len(cand_set) if cand_set else 0.0
    return Wording(
        content_recall=recall,
        content_novelty=novelty,
        token_edit=edit_ratio(orig.surface, cand.surface),
        structure_edit=edit_ratio(orig.structure, cand.structure),
    )
