"""WordNet 3.0 relations between two words, read from Debian's database (offline).

The sentence encoder is blind to many sound words ("auto"/"car", "steps"/"footsteps",
"responded"/"answers"); WordNet knows them and knows the direction of a hypernym, which the
labelling guide needs: a more general word keeps the scene ("vehicle" for "car"), a more
specific one adds to it ("songbird" for "bird").

The database comes from Debian (`apt-get install wordnet-base wordnet-sense-index`, done by
scripts/install.sh); NLTK reads it. Debian leaves out the `lexnames` table NLTK needs; it is a
fixed part of the WordNet 3.0 format (lexnames(5WN)), so it is written here into a reader
folder in the robustclap cache beside copies of the database files.
"""

from __future__ import annotations

import os
import shutil
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from robustclap.contracts.errors import RobustclapError

DEFAULT_DIR = Path("/usr/share/wordnet")
INSTALL_HINT = ("WordNet 3.0 is needed by the gate: `apt-get install wordnet-base "
                "wordnet-sense-index` (scripts/install.sh does it), or set ROBUSTCLAP_WORDNET "
                "to a folder holding its data.* and index.* files")
_LEXNAMES = (  # lexnames(5WN): lexicographer file number -> name
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
)
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
_FILES = ("data.noun", "data.verb", "data.adj", "data.adv", "index.noun", "index.verb",
          "index.adj", "index.adv", "index.sense", "noun.exc", "verb.exc", "adj.exc", "adv.exc")
# spaCy coarse POS -> WordNet POS letters tried for that word
_POS = {"NOUN": ("n",), "PROPN": ("n",), "VERB": ("v", "n"), "ADJ": ("a", "s"),
        "ADV": ("r", "a")}
MAX_HYPERNYM_DEPTH = 4  # "vehicle" for "car" is 2 steps; further up is no longer the same scene
# senses read per word, most frequent first: rare senses make every common verb a synonym of
# every other ("go off" / "break up" share a synset through "break, go, fail")
MAX_SENSES = 3

# relation names (stored in the alignment JSON)
SYNONYM = "wn_synonym"  # a shared synset, or derivationally related forms
GENERAL = "wn_general"  # the candidate's word is a hypernym of the caption's: fine
SPECIFIC = "wn_specific"  # the candidate's word is a hyponym of the caption's: an addition


def _source_dir() -> Path:
    return Path(os.environ.get("ROBUSTCLAP_WORDNET", DEFAULT_DIR))


def _cache_root() -> Path:
    base = os.environ.get("ROBUSTCLAP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "robustclap")
    return Path(base) / "nltk_data"


def reader_dir() -> Path:
    """A folder NLTK's reader accepts: copies of the database files (~30 MB) plus `lexnames`."""
    src = _source_dir()
    missing = [f for f in _FILES if not (src / f).is_file()]
    if missing:
        raise RobustclapError(f"WordNet not found in {src} (missing {', '.join(missing[:3])}). "
                              f"{INSTALL_HINT}")
    # NLTK's own layout (DATA_ROOT/corpora/wordnet): its reader looks the corpus up by name
    dest = _cache_root() / "corpora" / "wordnet"
    if (dest / "lexnames").is_file():
        return dest
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    for f in _FILES:  # copies: NLTK refuses links that lead out of its root
        shutil.copyfile(src / f, tmp / f)
    lines = [f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}" for i, name in
             enumerate(_LEXNAMES)]
    (tmp / "lexnames").write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        tmp.rename(dest)
    except OSError:  # another process finished first: use theirs
        if not (dest / "lexnames").is_file():
            raise
    return dest


@lru_cache(maxsize=1)
def wordnet() -> Any:
    """NLTK's WordNet reader on the local database (loaded once per process)."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = reader_dir()
    # NLTK opens corpus files only under its data roots: authorise this one data root
    data_root = str(root.parent.parent)
    if data_root not in nltk.data.path:
        nltk.data.path.insert(0, data_root)
    with warnings.catch_warnings():  # no Open Multilingual WordNet here: English only
        warnings.filterwarnings("ignore", message="The multilingual functions")
        return WordNetCorpusReader(str(root), None)


def version() -> str:
    """Identity of the lexical resource, for score-cache keys."""
    return f"wordnet-{wordnet().get_version()}"


@lru_cache(maxsize=1 << 16)
def _synsets(word: str, pos: str) -> tuple[Any, ...]:
    wn = wordnet()
    out: list[Any] = []
    for p in _POS.get(pos, ("n", "v", "a", "r")):
        out.extend(wn.synsets(word, pos=p)[:MAX_SENSES])
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=1 << 16)
def _up(word: str, pos: str) -> frozenset[Any]:
    """Every hypernym (and instance hypernym) of the word's senses up to the depth limit."""
    found: set[Any] = set()
    frontier = set(_synsets(word, pos))
    for _ in range(MAX_HYPERNYM_DEPTH):
        nxt = {h for s in frontier for h in s.hypernyms() + s.instance_hypernyms()}
        nxt -= found
        found |= nxt
        frontier = nxt
    return frozenset(found)


@lru_cache(maxsize=1 << 16)
def _related_forms(word: str, pos: str) -> frozenset[str]:
    """Derivationally related lemmas and pertainyms ("clicks" / "clicking", "loud"/"loudly")."""
    out: set[str] = set()
    for s in _synsets(word, pos):
        for lem in s.lemmas():
            if lem.name().lower() != word:
                continue
            for rel in lem.derivationally_related_forms() + lem.pertainyms():
                out.add(rel.name().lower())
    return frozenset(out)


@lru_cache(maxsize=1 << 17)
def relation(caption_word: str, caption_pos: str, candidate_word: str, candidate_pos: str
             ) -> str | None:
    """How the candidate's word relates to the caption's: SYNONYM, GENERAL, SPECIFIC or None.
    Words are lemmas in lower case; multi-word WordNet lemmas use "_"."""
    a = set(_synsets(caption_word, caption_pos))
    b = set(_synsets(candidate_word, candidate_pos))
    if not a or not b:
        return None
    if a & b:
        return SYNONYM
    if candidate_word in _related_forms(caption_word, caption_pos) or caption_word in (
            _related_forms(candidate_word, candidate_pos)):
        return SYNONYM
    if b & _up(caption_word, caption_pos):
        return GENERAL
    if a & _up(candidate_word, candidate_pos):
        return SPECIFIC
    return None
