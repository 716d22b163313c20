"""Sound-event alignment: does the candidate describe the same sound events as the caption?

A caption is read (spaCy parse) as a set of sound events: an action (a verb, or an event noun
such as "clap" in "a clap of thunder"), its source (the subject, the agent of a passive, or the
noun a participle modifies: "a person gurgling"), its object, and the content words attached
to it (attributes, places, manners). Counts, negations and temporal relations are checked by
facts.py; this module checks that every content word of the caption is matched by one of the
candidate and the reverse, and that matched actions keep their matched sources and objects.

Matching, one candidate word per caption word (so a word the candidate repeats more often than
the caption counts as added): same lemma; else same Snowball stem ("carefully" / "careful");
else a compound written as one word ("thunderclap" / "clap of thunder"); else a WordNet
relation (quality/wordnet.py: a shared synset or related form, a more general word, or a more
specific one, which is counted apart as added detail); else a synonym from the word aligner
(mutual best single-word MiniLM match). Level 1 must match by
form only, so the gate counts synonym matches against it; level 2 may use them.

Neutral words ("sound", "noise", "hear", light verbs) are left out on both sides: the labelling
rule accepts "the sound of" additions. The list is in the gate config (versioned).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from robustclap.quality.event_details import (
    argument,
    attribute_moves,
    count_changes,
    counts,
    grammatical_number,
    modified,
    number_changes,
    run_on,
    slot_changes,
)
from robustclap.quality.lexical import is_content, lemma

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

# candidate words, caption words -> {candidate word: (caption word, cosine)} (mutual best)
Matcher = Callable[[list[str], list[str]], dict[str, tuple[str, float]]]
# two words -> cosine of their single-word embeddings
Similarity = Callable[[str, str], float]
# (caption lemma, caption POS, candidate lemma, candidate POS) -> WordNet relation or None
Lexicon = Callable[[str, str, str, str], str | None]
# how a caption word was matched through the lexicon, best first (quality/wordnet.py names)
LEXICON_KINDS = ("wn_synonym", "wn_general", "wn_specific")

_SOURCE_DEPS = frozenset({"nsubj", "csubj"})
_OBJECT_DEPS = frozenset({"dobj", "obj", "nsubjpass"})
# participles and clauses whose subject is their head's (closed grammatical relations)
_INHERIT_DEPS = frozenset({"conj", "advcl", "xcomp", "pcomp"})
_DANGLING_POS = frozenset({"DET", "ADP", "CCONJ", "SCONJ", "AUX", "PART"})
_DANGLING_TAGS = frozenset({"DT", "IN", "CC", "TO", "PRP$", "WDT"})  # "... and the"


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """Snowball stem, cached: a batch repeats the same words and the pure-Python stemmer
    was half of `scene`'s time."""
    return _stemmer().stemWord(word)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Unit:
    """One content word: its lemma, stem, position and the event it belongs to."""

    i: int
    lemma: str
    stem: str
    pos: str
    event: int | None  # token index of its action (the verb or event noun it hangs on)
    form: str = ""  # the word as written, lower case
    number: str | None = None  # grammatical number of a noun: "Sing", "Plur" or unknown
    number_by_det: bool = False  # that number is stated by a determiner or numeral
    arg: tuple[int, str] | None = None  # (verb, "source"/"object"/"oblique") it is an argument of
    modifies: int | None = None  # token index of the noun or verb it modifies (amod, advmod, ...)


@dataclass(frozen=True)
class Event:
    """A sound event: action lemma with the token index of its source and object units."""

    action: int  # token index
    source: int | None
    object: int | None


@dataclass(frozen=True)
class Scene:
    """The sound events of one text and its content words (neutral words left out)."""

    units: tuple[Unit, ...]
    events: tuple[Event, ...]
    sentences: int
    copular_definition: bool  # "An owl is a creature ..."
    dangling: bool  # cut off mid-sentence, or only a subordinate clause
    # every content word in text order, neutral ones too, as lemma/relation/head lemma
    sequence: tuple[str, ...] = ()
    words: frozenset[str] = field(default_factory=frozenset)
    counts: tuple[tuple[int, int], ...] = ()  # (how many, token index of what it counts)
    run_on: bool = False  # two finite clauses glued with no conjunction or punctuation


def _source(tok: Token, seen: int = 0) -> Token | None:
    """Subject of a verb: its own, the agent of a passive, the noun a participle modifies,
    or, for a conjunct or dependent clause, its head's subject."""
    for child in tok.children:
        if child.dep_ in _SOURCE_DEPS:
            return child
        if child.dep_ == "agent":
            obj = next((g for g in child.children if g.dep_ == "pobj"), None)
            if obj is not None:
                return obj
    if tok.dep_ in ("acl", "relcl", "amod") and tok.head.pos_ in ("NOUN", "PROPN", "PRON"):
        return tok.head
    if tok.dep_ in _INHERIT_DEPS and tok.head.i != tok.i and seen < 4 and tok.head.pos_ in (
        "VERB", "AUX"
    ):
        return _source(tok.head, seen + 1)
    return None


def _object(tok: Token) -> Token | None:
    return next((c for c in tok.children if c.dep_ in _OBJECT_DEPS), None)


def _action_of(tok: Token) -> Token | None:
    """The nearest verb this token hangs on (itself for a verb), else its root noun."""
    cur = tok
    for _ in range(12):
        if cur.pos_ == "VERB":
            return cur
        if cur.head.i == cur.i:
            return cur
        cur = cur.head
    return None


def _neutral(tok: Token, neutral: frozenset[str]) -> bool:
    """A neutral word, or a verb whose object is one ("makes a noise", "creates a sound")."""
    if lemma(tok) in neutral:
        return True
    return tok.pos_ == "VERB" and any(
        c.dep_ in _OBJECT_DEPS and lemma(c) in neutral for c in tok.children
    )


_CLAUSE_POS = frozenset({"NOUN", "PROPN", "PRON", "VERB", "AUX", "ADJ", "ADV"})


def _main_clause_after_comma(sent: Span) -> bool:
    """A fronted subordinate clause and a comma, then words that can be a main clause ("As a
    car goes past, a hound yelps noisily"). spaCy's small model often makes the fronted clause
    the root and tags the main verb as a noun ("yelps" NNS), so the words are counted, not
    parsed: at least two content words, not opened by a conjunction ("..., and the wind")."""
    commas = [t.i for t in sent if t.text == ","]
    if not commas:
        return False
    rest = [t for t in sent.doc[commas[0] + 1:sent.end] if not t.is_punct]
    return bool(rest) and rest[0].pos_ not in ("CCONJ", "SCONJ") and sum(
        t.pos_ in _CLAUSE_POS for t in rest) >= 2


def scene(doc: Doc, neutral: frozenset[str]) -> Scene:
    """Read a parsed text as sound events and content words."""
    units: list[Unit] = []
    sequence: list[str] = []
    for tok in doc:
        if not is_content(tok):
            continue
        lem = lemma(tok)
        sequence.append(f"{lem}/{tok.dep_}/{lemma(tok.head)}")
        if _neutral(tok, neutral):
            continue
        action = _action_of(tok)
        number, by_det = grammatical_number(tok)
        if any(c.dep_ in _SOURCE_DEPS for c in tok.children):
            number = None  # a noun with a subject is a verb spaCy mis-tagged ("bird chirps")
        units.append(Unit(tok.i, lem, stem(tok.lower_), tok.pos_,
                          None if action is None else action.i, tok.lower_, number, by_det,
                          argument(tok), modified(tok)))
    content_i = {u.i for u in units}
    events = []
    for tok in doc:
        if tok.pos_ != "VERB" or tok.i not in content_i:
            continue
        src, obj = _source(tok), _object(tok)
        events.append(Event(tok.i,
                            src.i if src is not None and src.i in content_i else None,
                            obj.i if obj is not None and obj.i in content_i else None))
    sents = list(doc.sents)
    root = sents[0].root if sents else None
    definition = bool(
        root is not None and root.lemma_ == "be"
        and any(c.dep_ == "attr" and c.pos_ == "NOUN"
                and any(d.lower_ in ("a", "an") for d in c.children) for c in root.children)
    )
    tail = [t for t in doc if not t.is_space]
    last_word = next((t for t in reversed(tail) if not t.is_punct), None)
    dangling = bool(tail) and (
        tail[-1].text in (",", ";", ":", "-", "(")
        or (last_word is not None and last_word.i == tail[-1].i
            and (last_word.pos_ in _DANGLING_POS or last_word.tag_ in _DANGLING_TAGS))
        # a subordinate clause with no main clause: "While sheep are bleating and ..."
        or (root is not None and any(c.dep_ == "mark" for c in root.children)
            and not _main_clause_after_comma(sents[0]))
    )
    glued = run_on(doc)
    return Scene(tuple(units), tuple(events), len(sents), definition, dangling or glued,
                 tuple(sequence), frozenset(u.lemma for u in units), counts(doc), glued)


@dataclass(frozen=True)
class Alignment:
    """Result of aligning a candidate's scene with its caption's (stored as columns)."""

    align_missing: int  # caption content words with no match
    align_added: int  # candidate content words with no match (repeats included)
    align_synonyms: int  # matches that needed the synonym aligner (not allowed at level 1)
    align_synonym_sim: float  # the lowest word cosine among those matches (1 when none)
    align_roles: int  # matched actions whose matched source or object changed
    align_wordnet: int  # caption words matched through a WordNet synonym or related form
    align_general: int  # ... through a more general candidate word (hypernym): fine
    align_specific: int  # ... through a more specific candidate word (hyponym): an addition
    align_units: int  # caption content words (the denominator of the counts above)
    # soft coverage: each word's best match on the other side (1 for the same word, a WordNet
    # synonym or a more general word, SPECIFIC_CREDIT for a more specific one, else the word
    # cosine); the weakest and the mean, caption words (kept?) and candidate words (added?)
    cover_caption_min: float
    cover_caption_mean: float
    cover_candidate_min: float
    cover_candidate_mean: float
    extra_sentences: int  # candidate sentences beyond the caption's
    definition: bool  # "X is a Y ..." where the caption is not
    fragment: bool  # cut off mid-sentence where the caption is not
    same_content: bool  # the same content lemmas in the same order and the same syntactic
    # relations: only inflections and function words changed (a near-copy at level 1)
    alignment: str  # JSON: what was missing, added, matched by synonym, re-assigned


def _lexicon_matches(orig: Scene, cand: Scene, pairs: dict[int, int], how: dict[int, str],
                     free: dict[int, Unit], lexicon: Lexicon) -> None:
    """Match what is left through WordNet: a shared synset or related form first, then a more
    general candidate word (fine), then a more specific one (matched, but counted as added
    detail), each caption word to the first free candidate word with that relation."""
    for kind in LEXICON_KINDS:
        for o in orig.units:
            if o.i in pairs:
                continue
            hit = next((c for c in free.values()
                        if lexicon(o.lemma, o.pos, c.lemma, c.pos) == kind), None)
            if hit is not None:
                pairs[o.i], how[o.i] = hit.i, kind
                del free[hit.i]


def _match(orig: Scene, cand: Scene, matcher: Matcher | None, lexicon: Lexicon | None = None
           ) -> tuple[dict[int, int], dict[int, str], dict[int, float]]:
    """Caption unit index -> candidate unit index, how each pair matched, synonym cosines.
    Only a candidate compound standing for two caption words is matched, not the reverse:
    splitting a caption's word ("nightfall" -> "night fall") was seen in garbled rewrites."""
    free = {u.i: u for u in cand.units}
    pairs: dict[int, int] = {}
    how: dict[int, str] = {}
    sims: dict[int, float] = {}

    def take(kind: str, same: Callable[[Unit, Unit], bool]) -> None:
        for o in orig.units:
            if o.i in pairs:
                continue
            hit = next((c for c in free.values() if same(o, c)), None)
            if hit is not None:
                pairs[o.i], how[o.i] = hit.i, kind
                del free[hit.i]

    take("lemma", lambda o, c: o.lemma == c.lemma)
    take("stem", lambda o, c: o.stem == c.stem)
    # a compound written as one word matches two adjacent caption words (either order)
    for c in list(free.values()):
        for o in orig.units:
            if o.i in pairs:
                continue
            for other in orig.units:
                if other.i == o.i or other.i in pairs or abs(other.i - o.i) > 2:
                    continue
                if c.lemma in (o.lemma + other.lemma, other.lemma + o.lemma):
                    pairs[o.i] = pairs[other.i] = c.i
                    how[o.i] = how[other.i] = "compound"
                    free.pop(c.i, None)
                    break
            if c.i not in free:
                break
    if lexicon is not None:
        _lexicon_matches(orig, cand, pairs, how, free, lexicon)
    if matcher is not None:
        left_o = [u for u in orig.units if u.i not in pairs]
        left_c = list(free.values())
        if left_o and left_c:
            found = matcher(sorted({u.lemma for u in left_c}), sorted({u.lemma for u in left_o}))
            for c in left_c:
                target, sim = found.get(c.lemma, ("", 0.0))
                o = next((u for u in left_o if u.lemma == target and u.i not in pairs), None)
                if o is not None:
                    pairs[o.i], how[o.i], sims[o.i] = c.i, "synonym", sim
                    del free[c.i]
    return pairs, how, sims


def _role_changes(orig: Scene, cand: Scene, pairs: dict[int, int]) -> list[dict[str, str]]:
    """Matched actions whose source or object is matched to another caption word, or to a
    caption action that was not in that slot ("a human mimics it while a lamb bleats" ->
    "the human mimics the lamb's bleating": an event turned into the thing acted on)."""
    words_o = {u.i: u.lemma for u in orig.units}
    words_c = {u.i: u.lemma for u in cand.units}
    back: dict[int, list[int]] = {}
    for o, c in pairs.items():
        back.setdefault(c, []).append(o)
    actions_o = {e.action: e for e in orig.events}
    out = []
    for ce in cand.events:
        for o_action in back.get(ce.action, []):
            e = actions_o.get(o_action)
            if e is None:
                continue
            for slot, want, got in (("source", e.source, ce.source),
                                    ("object", e.object, ce.object)):
                if got is None or got not in back:
                    continue  # not seen in both texts: no claim
                if want is not None:
                    changed = want not in back[got] and pairs.get(want) != got
                else:
                    changed = any(o in actions_o and o != o_action for o in back[got])
                if changed:
                    out.append({"action": words_o[o_action], "slot": slot,
                                "caption": words_o[want] if want is not None else "",
                                "candidate": words_c[got]})
    # a caption action that the candidate only names as another action's argument
    cand_actions = {e.action for e in cand.events}
    for ce in cand.events:
        for slot, got in (("source", ce.source), ("object", ce.object)):
            if got is None or got in cand_actions:
                continue
            for o in back.get(got, []):
                if o in actions_o and o not in back.get(ce.action, []):
                    out.append({"action": words_c[ce.action], "slot": slot,
                                "caption": words_o[o], "candidate": words_c[got]})
    return out


SPECIFIC_CREDIT = 0.5  # a more specific word keeps the sound but adds detail


def _credit(a: Unit, b: Unit, lexicon: Lexicon | None, similarity: Similarity | None) -> float:
    """How well word b stands for word a (see Alignment.cover_*)."""
    if a.lemma == b.lemma or a.stem == b.stem:
        return 1.0
    rel = lexicon(a.lemma, a.pos, b.lemma, b.pos) if lexicon is not None else None
    if rel in ("wn_synonym", "wn_general"):
        return 1.0
    sim = max(0.0, similarity(a.lemma, b.lemma)) if similarity is not None else 0.0
    return max(sim, SPECIFIC_CREDIT) if rel == "wn_specific" else sim


def _coverage(orig: Scene, cand: Scene, lexicon: Lexicon | None,
              similarity: Similarity | None) -> tuple[float, float, float, float]:
    """(min, mean) best credit of the caption's words in the candidate, then the reverse."""
    if not orig.units or not cand.units:
        empty = 1.0 if not orig.units and not cand.units else 0.0
        return empty, empty, empty, empty
    grid = [[_credit(o, c, lexicon, similarity) for c in cand.units] for o in orig.units]
    kept = [max(row) for row in grid]
    added = [max(grid[i][j] for i in range(len(orig.units))) for j in range(len(cand.units))]
    return min(kept), sum(kept) / len(kept), min(added), sum(added) / len(added)


def align(orig: Scene, cand: Scene, matcher: Matcher | None = None,
          lexicon: Lexicon | None = None, similarity: Similarity | None = None) -> Alignment:
    """Align a candidate's scene with its caption's (module docstring)."""
    pairs, how, sims = _match(orig, cand, matcher, lexicon)
    used = set(pairs.values())
    missing = [u.lemma for u in orig.units if u.i not in pairs]
    added = [u.lemma for u in cand.units if u.i not in used]
    words_c = {u.i: u.lemma for u in cand.units}
    synonyms = [[u.lemma, words_c[pairs[u.i]], round(sims[u.i], 3)] for u in orig.units
                if how.get(u.i) == "synonym"]
    back: dict[int, list[int]] = {}
    for o, c in pairs.items():
        back.setdefault(c, []).append(o)
    roles = _role_changes(orig, cand, pairs)
    seen = {(r["action"], r["slot"], r["candidate"]) for r in roles}
    for found in (slot_changes(orig, cand, pairs, back), number_changes(orig, cand, pairs),
                  attribute_moves(orig, cand, pairs, back),
                  count_changes(orig, cand, pairs, back)):
        for r in found:
            if (r["action"], r["slot"], r["candidate"]) not in seen:
                seen.add((r["action"], r["slot"], r["candidate"]))
                roles.append(r)
    extra = max(0, cand.sentences - orig.sentences)
    definition = cand.copular_definition and not orig.copular_definition
    fragment = cand.dangling and not orig.dangling
    wn_pairs = [[u.lemma, words_c[pairs[u.i]], how[u.i]] for u in orig.units
               if how.get(u.i) in LEXICON_KINDS]
    detail = {"missing": missing, "added": added, "synonyms": synonyms, "roles": roles}
    if wn_pairs:
        detail["wordnet"] = wn_pairs
    if extra:
        detail["extra_sentences"] = extra
    if definition:
        detail["definition"] = True
    if fragment:
        detail["fragment"] = True
        if cand.run_on and not orig.run_on:
            detail["run_on"] = True
    return Alignment(
        align_missing=len(missing), align_added=len(added), align_synonyms=len(synonyms),
        align_synonym_sim=min(sims.values(), default=1.0),
        align_roles=len(roles),
        align_wordnet=sum(1 for x in wn_pairs if x[2] == "wn_synonym"),
        align_general=sum(1 for x in wn_pairs if x[2] == "wn_general"),
        align_specific=sum(1 for x in wn_pairs if x[2] == "wn_specific"),
        align_units=len(orig.units),
        **dict(zip(("cover_caption_min", "cover_caption_mean", "cover_candidate_min",
                    "cover_candidate_mean"), _coverage(orig, cand, lexicon, similarity),
                   strict=True)),
        extra_sentences=extra, definition=definition,
        fragment=fragment, same_content=orig.sequence == cand.sequence,
        alignment=json.dumps(detail, separators=(",", ":")),
    )

