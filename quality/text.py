"""Text normalisation and token-level distances shared by the gates.

Kept free of models so that the cheap checks (identity, duplicates, edit distance) behave the
same in the gate, in calibration and in tests.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

import ftfy
from rapidfuzz.distance import Levenshtein

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1 << 16)
def clean(text: str) -> str:
    """Repair mojibake and Unicode oddities so equal texts compare and hash equal. Cached:
    the surface checks clean each text several times and ftfy was a third of their time."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", ftfy.fix_text(text))).strip()


def words(text: str) -> list[str]:
    """Lower-cased word tokens without punctuation (numbers kept)."""
    return _WORD.findall(clean(text).lower())


def normalise(text: str) -> str:
    """The form under which two texts count as the same: case and punctuation ignored."""
    return " ".join(words(text))


def text_key(text: str) -> str:
    """Stable key of one text (cache key for per-text values such as embeddings)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def pair_key(original: str, candidate: str) -> str:
    """Stable key of an (original, candidate) pair; order matters (scores are asymmetric)."""
    return hashlib.sha256(f"{original}\x1f{candidate}".encode()).hexdigest()[:32]


def levenshtein(a: list[str], b: list[str]) -> int:
    """Edit distance between two token sequences (insert, delete, substitute cost 1)."""
    return Levenshtein.distance(a, b)


def edit_ratio(a: list[str], b: list[str]) -> float:
    """Share of tokens changed, 0 (same sequence) .. 1 (nothing in common in place)."""
    longest = max(len(a), len(b))
    return Levenshtein.distance(a, b) / longest if longest else 0.0
