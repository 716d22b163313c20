"""Finer event checks for the alignment (events.py): what a level-1 rewrite can change while
keeping every word — how many sources there are, which slot a word fills, which word an
attribute describes, which event a count belongs to — and clauses glued with no conjunction.

Each reader takes a spaCy token or parse; each comparison takes the two scenes and the unit
matching (caption token index -> candidate token index, and back) and returns findings as small
dicts that go into the alignment JSON under "roles" (so `align_roles` counts them and the
regeneration feedback can name them). Only closed grammatical classes are listed here
(determiners and count adverbs); content words come from the parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

    from robustclap.quality.events import Scene

_SINGULAR_DET = frozenset({"a", "an", "one", "each", "every", "another", "single"})
_PLURAL_DET = frozenset({"these", "those", "many", "several", "both", "various", "numerous",
                         "multiple", "two", "three", "four", "five", "six", "seven", "eight",
                         "nine", "ten", "twelve", "dozens", "hundreds"})
_COUNT_ADVERBS = {"once": 1, "twice": 2, "thrice": 3}
_MODIFIER_DEPS = frozenset({"amod", "compound", "advmod", "npadvmod"})
_SOURCE_DEPS = frozenset({"nsubj", "csubj"})
_OBJECT_DEPS = frozenset({"dobj", "obj", "nsubjpass"})
_GLUE_POS = frozenset({"CCONJ", "SCONJ", "PUNCT"})
_HEAD_POS = frozenset({"NOUN", "PROPN", "VERB"})
_CLAUSE_DEPS = frozenset({"ROOT", "advcl", "ccomp", "xcomp", "relcl", "acl", "parataxis"})
# prepositions that spaCy also uses for subordinators ("as time goes on"): their object is
# often a misparsed subject, so it is not read as the thing acted on
_SUBORDINATING = frozenset({"as", "while", "whilst", "after", "before", "since", "until",
                            "till", "because", "like", "once"})


def grammatical_number(tok: Token) -> tuple[str | None, bool]:
    """(number, stated by a determiner) of a noun. A determiner or numeral decides ("a sheep",
    "two sheep"); else spaCy's Number feature, which for a word whose singular and plural look
    the same ("sheep") is only a guess from agreement. A compound modifier ("bird" in "a bird
    chirp") is written singular whatever the count, so only its phrase's determiner counts."""
    if tok.pos_ not in ("NOUN", "PROPN") or tok.dep_ in _CLAUSE_DEPS:
        return None, False  # a "noun" heading a clause is mostly a mis-tagged verb ("mimics")
    found = tok.morph.get("Number")
    own = found[0] if found and tok.dep_ != "compound" else None
    phrase = tok.head if tok.dep_ == "compound" else tok
    for child in phrase.children:
        if child.dep_ not in ("det", "nummod", "quantmod"):
            continue
        low = child.lower_
        said = "Sing" if low in _SINGULAR_DET else "Plur" if (
            low in _PLURAL_DET or (child.like_num and low not in ("0", "1", "zero"))) else None
        if said is not None:
            # "A crickets", "a great many people": the words disagree, so no claim
            return (None, False) if own not in (None, said) else (said, True)
    return own, False


def argument(tok: Token) -> tuple[int, str] | None:
    """(verb index, slot) when the token is a verb's source, object or prepositional object;
    a conjunct shares its first conjunct's slot ("a cello and a pair of violins play")."""
    while tok.dep_ == "conj" and tok.head.i != tok.i and tok.head.pos_ in ("NOUN", "PROPN",
                                                                             "PRON"):
        tok = tok.head
    head = tok.head
    if tok.dep_ == "pobj":
        if head.dep_ == "agent" and head.head.pos_ == "VERB":
            return head.head.i, "source"
        if head.head.pos_ == "VERB" and head.lower_ not in _SUBORDINATING:
            return head.head.i, "oblique"
        return None
    if head.pos_ != "VERB":
        return None
    if tok.dep_ in _SOURCE_DEPS:
        return head.i, "source"
    if tok.dep_ in _OBJECT_DEPS:
        return head.i, "object"
    return None


def modified(tok: Token) -> int | None:
    """Index of the word an attribute describes ("busy" -> "freeway"), else None."""
    return tok.head.i if tok.dep_ in _MODIFIER_DEPS and tok.head.i != tok.i else None


def counts(doc: Doc) -> tuple[tuple[int, int], ...]:
    """(how many, index of the counted word): "bleats twice", "beeps two times", "two dogs"."""
    out = []
    for tok in doc:
        low = tok.lower_
        if low in _COUNT_ADVERBS and tok.dep_ == "advmod":
            out.append((_COUNT_ADVERBS[low], tok.head.i))
        elif tok.dep_ == "nummod" and tok.like_num:
            value = _value(tok)
            if value is None:
                continue
            head = tok.head
            if head.lemma_.lower() == "time" and head.dep_ == "npadvmod":
                out.append((value, head.head.i))  # "two times": counts its verb
            else:
                out.append((value, head.i))
    return tuple(out)


def _value(tok: Token) -> int | None:
    from robustclap.quality.facts import _UNITS

    low = tok.lower_
    if low.isdigit():
        return int(low)
    return _UNITS.get(low)


def run_on(doc: Doc) -> bool:
    """A conjoined verb with its own auxiliary that follows the previous clause with no
    conjunction, subordinator or punctuation ("water is tapping and knocking is being done")."""
    for tok in doc:
        if tok.dep_ != "conj" or tok.pos_ not in ("VERB", "AUX"):
            continue
        if not any(c.dep_ in ("aux", "auxpass") for c in tok.children):
            continue
        start = tok.left_edge.i
        if start > 0 and doc[start - 1].pos_ not in _GLUE_POS:
            return True
    return False


def _pos(scene: Scene, i: int) -> str:
    return next((u.pos for u in scene.units if u.i == i), "")


def _words(scene: Scene) -> dict[int, str]:
    return {u.i: u.lemma for u in scene.units}


def number_changes(orig: Scene, cand: Scene, pairs: dict[int, int]) -> list[dict[str, str]]:
    """Matched nouns whose grammatical number changed ("birds chirp" -> "a bird chirps"). A
    word written the same way on both sides ("sheep") counts only when a determiner says so."""
    units_c = {u.i: u for u in cand.units}
    out = []
    for o in orig.units:
        c = units_c.get(pairs.get(o.i, -1))
        if c is None or o.number is None or c.number is None or o.number == c.number:
            continue
        if o.form == c.form and not (o.number_by_det or c.number_by_det):
            continue
        out.append({"action": o.lemma, "slot": "number",
                    "caption": o.number.lower(), "candidate": c.number.lower()})
    return out


def slot_changes(orig: Scene, cand: Scene, pairs: dict[int, int],
                 back: dict[int, list[int]]) -> list[dict[str, str]]:
    """A word that fills another slot of the same matched verb: two sources turned into source
    and object, or the thing acted on ("drawn across a railing") turned into the subject."""
    units_o = {u.i: u for u in orig.units}
    words_c = _words(cand)
    filled = {(u.arg[0], u.arg[1]) for u in cand.units if u.arg is not None}
    out = []
    for c in cand.units:
        if c.arg is None or c.arg[1] == "oblique":
            continue
        verb_c, slot = c.arg
        other = "object" if slot == "source" else "source"
        for o_i in back.get(c.i, []):
            o = units_o[o_i]
            if o.arg is None or o.arg[1] == slot or o.arg[0] not in back.get(verb_c, []):
                continue
            if o.arg[1] == other and (verb_c, other) not in filled:
                continue  # "the synth is reverberated" / "the synth reverberates": one argument
            out.append({"action": words_c.get(verb_c, ""), "slot": slot,
                        "caption": f"{o.lemma} ({o.arg[1]})", "candidate": c.lemma})
    return out


def attribute_moves(orig: Scene, cand: Scene, pairs: dict[int, int],
                    back: dict[int, list[int]]) -> list[dict[str, str]]:
    """An attribute that describes another matched word ("near a busy freeway" -> "on a busy
    street near a freeway"): both words it could describe are in both texts."""
    units_c = {u.i: u for u in cand.units}
    words_o, words_c = _words(orig), _words(cand)
    out = []
    for o in orig.units:
        c = units_c.get(pairs.get(o.i, -1))
        if c is None or o.modifies is None or c.modifies is None:
            continue
        if _pos(orig, o.modifies) not in _HEAD_POS or _pos(cand, c.modifies) not in _HEAD_POS:
            continue  # stacked attributes ("soft mechanical bleeping") parse either way
        if o.modifies not in pairs or c.modifies not in back:
            continue  # one of the described words is not matched: no claim
        if o.modifies in back[c.modifies]:
            continue
        out.append({"action": o.lemma, "slot": "attribute",
                    "caption": words_o.get(o.modifies, ""),
                    "candidate": words_c.get(c.modifies, "")})
    return out


def count_changes(orig: Scene, cand: Scene, pairs: dict[int, int],
                  back: dict[int, list[int]]) -> list[dict[str, str]]:
    """A count on a matched word that the other text puts on another word, changes or lacks
    ("a sheep bleats twice" -> "the baby cries twice, while a sheep bleats once")."""
    words_o, words_c = _words(orig), _words(cand)
    on_c = {(n, a) for n, a in cand.counts}
    on_o = {(n, a) for n, a in orig.counts}
    out = []
    for n, a in orig.counts:
        if a in pairs and (n, pairs[a]) not in on_c:
            out.append({"action": words_o.get(a, ""), "slot": "count",
                        "caption": str(n), "candidate": ""})
    for n, a in cand.counts:
        if a in back and not any((n, o) in on_o for o in back[a]):
            out.append({"action": words_c.get(a, ""), "slot": "count",
                        "caption": "", "candidate": str(n)})
    return out
