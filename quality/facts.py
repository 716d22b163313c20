"""Caption facts a paraphrase must keep: counts, negations, temporal order and who does what.

Each check reads spaCy's tags and dependency parse; nothing here is a content-word list. The
only word lists are closed grammatical classes that spaCy does not label itself (number words'
values, negators, temporal connectives).

Facts of two texts are compared after mapping the candidate's lemmas onto the original's: a
lemma the original also has maps to itself; otherwise an optional word aligner (similarity of
single-word embeddings, mutual best match) maps it to an original lemma, so level-2 synonyms
("hound" for "dog") still line up. Unaligned words are simply not compared: the checks report
violations they can see, never guesses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from robustclap.quality.lexical import is_content, lemma

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

# Closed grammatical classes (values and function words, not content vocabulary).
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10,
}
_TIMES = {"twice": 2, "thrice": 3}
_GROUPS = {"pair": 2, "couple": 2, "trio": 3}  # "a pair of birds" counts two
NEGATORS = frozenset(
    {"no", "not", "n't", "never", "without", "nobody", "nothing", "none", "neither", "nor",
     "nowhere", "cannot"}
)
_AFTER = frozenset({"after", "once"})  # X after Y: Y happens first
_BEFORE = frozenset({"before", "until", "till"})  # X before Y: X happens first
_WHILE = frozenset({"while", "whilst", "as", "during", "meanwhile"})
_THEN = frozenset({"then", "afterwards", "afterward", "later", "subsequently", "next"})
_FOLLOW = "follow"  # "X followed by Y", "Y follows X"
_PRECEDE = "precede"

BEFORE, WHILE = "before", "while"


# ----------------------------------------------------------------------------- numbers
def _number_value(tokens: list[Token]) -> str | None:
    """Value of a run of adjacent number tokens ("twenty five" -> 25, "3.5" -> 3.5)."""
    total, current, seen = 0.0, 0.0, False
    for tok in tokens:
        text = tok.lower_.replace(",", "")
        try:
            current += float(text)
            seen = True
            continue
        except ValueError:
            pass
        if text in _UNITS:
            current += _UNITS[text]
        elif text in _SCALES:
            total += (current or 1) * _SCALES[text]
            current = 0.0
        else:
            continue
        seen = True
    if not seen:
        return None
    value = total + current
    return str(int(value)) if value == int(value) else f"{value:g}"


def numbers(doc: Doc) -> Counter[str]:
    """Multiset of counts and quantities; cardinal 1 and "first" are left out (articles and
    "one of" phrasing make them unreliable)."""
    found: Counter[str] = Counter()
    run: list[Token] = []
    for tok in [*doc, None]:
        if tok is not None and tok.like_num and tok.lower_ not in _ORDINALS:
            run.append(tok)
            continue
        if run:
            value = _number_value(run)
            if value is not None and value != "1":
                found[value] += 1
            run = []
        if tok is None:
            break
        low = tok.lower_
        if low in _ORDINALS and _ORDINALS[low] > 1 and tok.pos_ in ("ADJ", "ADV", "NUM"):
            found[f"ordinal:{_ORDINALS[low]}"] += 1
        elif low in _TIMES:
            found[f"times:{_TIMES[low]}"] += 1
        elif tok.lemma_.lower() in _GROUPS and tok.pos_ == "NOUN" and any(
            c.lower_ == "of" for c in tok.children
        ):
            found[str(_GROUPS[tok.lemma_.lower()])] += 1
    return found


def number_diff(a: Counter[str], b: Counter[str]) -> int:
    """How many quantities one text has that the other lacks."""
    return sum(((a - b) + (b - a)).values())


# ----------------------------------------------------------------------------- negation
def negations(doc: Doc) -> int:
    """Number of negators: spaCy's `neg` relation plus the negating determiners/prepositions."""
    return sum(1 for t in doc if t.dep_ == "neg" or t.lower_ in NEGATORS)


# ----------------------------------------------------------------------------- roles
_ROLE_DEPS = {
    "nsubj": "A0", "csubj": "A0", "nsubjpass": "A1", "dobj": "A1", "obj": "A1",
    "dative": "A2", "poss": "poss", "amod": "mod", "compound": "mod", "attr": "attr",
}
_ARG_POS = frozenset({"NOUN", "PROPN", "PRON", "ADJ", "NUM"})


def _role(tok: Token) -> tuple[Token, str] | None:
    """(head, role) of an argument token, with passives and prepositions normalised:
    "a cat is chased by a dog" gives dog A0 and cat A1 of "chase", like the active form."""
    if tok.pos_ not in _ARG_POS:
        return None
    if tok.dep_ == "pobj":
        prep = tok.head
        if prep.dep_ == "agent":
            return prep.head, "A0"
        return prep.head, f"prep:{prep.lower_}"
    role = _ROLE_DEPS.get(tok.dep_)
    return (tok.head, role) if role else None


def _word(tok: Token) -> str:
    return lemma(tok)  # pronouns too: "him" -> "he", so "he calls her" / "she calls him" swap


@dataclass(frozen=True)
class RoleFact:
    head: str
    role: str
    dep: str


def roles(doc: Doc) -> tuple[frozenset[RoleFact], frozenset[RoleFact]]:
    """Role facts (head lemma, role, argument lemma), coarse and fine.

    The fine form names the head by its own lemma and its parent's, so two heads with the same
    lemma ("represented ... players representing") stay apart.
    """
    coarse, fine = set(), set()
    for tok in doc:
        found = _role(tok)
        if found is None:
            continue
        head, role = found
        coarse.add(RoleFact(lemma(head), role, _word(tok)))
        fine.add(RoleFact(f"{lemma(head)}<{lemma(head.head)}", role, _word(tok)))
    return frozenset(coarse), frozenset(fine)


def _map_fact(f: RoleFact, m: Callable[[str], str]) -> RoleFact:
    head, _, parent = f.head.partition("<")
    mapped = m(head) + (f"<{m(parent)}" if parent else "")
    return RoleFact(mapped, f.role, m(f.dep))


def role_swaps(orig: Iterable[RoleFact], cand: Iterable[RoleFact]) -> int:
    """Pairs of arguments that exchanged their slots: orig has (h1,r1,d1) and (h2,r2,d2), the
    candidate has (h1,r1,d2) and (h2,r2,d1) and neither original fact."""
    o, c = set(orig), set(cand)
    facts = sorted(o, key=lambda f: (f.head, f.role, f.dep))
    swaps = 0
    for i, f1 in enumerate(facts):
        for f2 in facts[i + 1:]:
            if f1.dep == f2.dep or (f1.head, f1.role) == (f2.head, f2.role):
                continue
            if (
                RoleFact(f1.head, f1.role, f2.dep) in c
                and RoleFact(f2.head, f2.role, f1.dep) in c
                and f1 not in c
                and f2 not in c
            ):
                swaps += 1
    return swaps


def reattachments(orig: Iterable[RoleFact], cand: Iterable[RoleFact],
                  orig_words: set[str], cand_words: set[str]) -> int:
    """Arguments that moved to a different head although both heads exist in both texts
    ("born in 1947 ... moved to NY" -> "born ... moved to NY in 1947")."""
    heads_o: dict[str, set[str]] = {}
    heads_c: dict[str, set[str]] = {}
    for f in orig:
        heads_o.setdefault(f.dep, set()).add(f.head)
    for f in cand:
        heads_c.setdefault(f.dep, set()).add(f.head)
    moved = 0
    for dep, ho in heads_o.items():
        hc = heads_c.get(dep)
        if not hc or ho & hc:
            continue
        if any(h in cand_words for h in ho) and any(h in orig_words for h in hc):
            moved += 1
    return moved


# ----------------------------------------------------------------------------- temporal order
@dataclass(frozen=True)
class Order:
    """Events (each a set of lemmas: its word and its core arguments) and relations between
    them: (i, j, "before") means event i happens first; (i, j, "while") is unordered (i < j)."""

    events: tuple[frozenset[str], ...]
    relations: frozenset[tuple[int, int, str]]
    kinds: frozenset[str] = frozenset()  # kinds of connective present, parsed or not


def _event_words(tok: Token) -> frozenset[str]:
    words = {lemma(tok)}
    for child in tok.children:
        if child.dep_ in ("nsubj", "nsubjpass", "dobj", "compound", "agent") and (
            child.pos_ in ("NOUN", "PROPN")
        ):
            words.add(lemma(child))
        if child.dep_ == "agent":
            words.update(lemma(g) for g in child.children if g.dep_ == "pobj")
    return frozenset(words)


def _is_event(tok: Token) -> bool:
    return tok.pos_ == "VERB" or (tok.pos_ in ("NOUN", "PROPN") and is_content(tok))


def _object_of(prep: Token) -> Token | None:
    for child in prep.children:
        if child.dep_ in ("pobj", "pcomp"):
            return child
    return None


def _earlier_event(later: Token, marker: Token) -> Token | None:
    """The event a "then" clause follows: the clause it hangs on if that comes first (its
    conjunct head, or the verb a misparsed clause is attached to), else the closest verb
    before the connective, else the closest event noun before it."""
    head = later.head
    if head.i != later.i and head.i < later.i and (later.dep_ == "conj" or _is_event(head)):
        return head
    before = list(reversed(later.doc[: marker.i]))
    for wanted in (lambda t: t.pos_ == "VERB", _is_event):
        for other in before:
            if wanted(other):
                return other
    return None


def _relations(doc: Doc) -> list[tuple[Token, Token, str]]:
    rels: list[tuple[Token, Token, str]] = []
    for tok in doc:
        low = tok.lower_
        if tok.dep_ == "mark" and (low in _AFTER or low in _BEFORE or low in _WHILE):
            sub, main = tok.head, tok.head.head
            if sub.i == main.i:
                continue
            if low in _AFTER:
                rels.append((sub, main, BEFORE))
            elif low in _BEFORE:
                rels.append((main, sub, BEFORE))
            else:
                rels.append((main, sub, WHILE))
        elif tok.dep_ == "prep" and (low in _AFTER or low in _BEFORE or low in _WHILE):
            obj = _object_of(tok)
            if obj is None:
                continue
            main = tok.head
            if low in _AFTER:
                rels.append((obj, main, BEFORE))
            elif low in _BEFORE:
                rels.append((main, obj, BEFORE))
            else:
                rels.append((main, obj, WHILE))
        elif low in _THEN and tok.dep_ == "advmod":
            later = tok.head
            earlier = _earlier_event(later, tok)
            if earlier is not None and earlier.i != later.i:
                rels.append((earlier, later, BEFORE))
        elif tok.lemma_.lower() in (_FOLLOW, _PRECEDE) and tok.pos_ == "VERB":
            rels.extend(_follow_relations(tok))
    return rels


def _follow_relations(verb: Token) -> list[tuple[Token, Token, str]]:
    """"X followed by Y", "X is followed by Y", "Y follows X", "X precedes Y"."""
    agent = next((g for c in verb.children if c.dep_ == "agent" for g in c.children
                  if g.dep_ == "pobj"), None)
    subj = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    obj = next((c for c in verb.children if c.dep_ in ("dobj", "obj")), None)
    first: Token | None
    second: Token | None
    if agent is not None:  # passive: "X (is) followed by Y"
        first = subj if subj is not None else (verb.head if verb.head.i != verb.i else None)
        second = agent
    else:  # active: "Y follows X"
        first, second = obj, subj
    if first is None or second is None:
        return []
    if verb.lemma_.lower() == _PRECEDE:
        first, second = second, first
    return [(first, second, BEFORE)]


def order(doc: Doc) -> Order:
    """The temporal relations a caption states with its connectives."""
    rels = _relations(doc)
    index: dict[int, int] = {}
    events: list[frozenset[str]] = []

    def event_id(tok: Token) -> int:
        if tok.i not in index:
            index[tok.i] = len(events)
            events.append(_event_words(tok))
        return index[tok.i]

    out: set[tuple[int, int, str]] = set()
    for a, b, kind in rels:
        i, j = event_id(a), event_id(b)
        if i == j:
            continue
        out.add((min(i, j), max(i, j), kind) if kind == WHILE else (i, j, kind))
    # verbs that take part in no relation can still be matched by the other text's events
    for tok in doc:
        if tok.pos_ == "VERB":
            event_id(tok)
    return Order(tuple(events), frozenset(out), _connective_kinds(doc))


def _connective_kinds(doc: Doc) -> frozenset[str]:
    """Which kinds of temporal connective a text contains, whatever its parse says; used to
    judge relations whose events cannot be aligned (a misparse must not count as a drop)."""
    kinds = set()
    for tok in doc:
        low, lem = tok.lower_, tok.lemma_.lower()
        if low in _AFTER or low in _BEFORE or low in _THEN or lem in (_FOLLOW, _PRECEDE):
            kinds.add(BEFORE)
        elif low in _WHILE:
            kinds.add(WHILE)
    return frozenset(kinds)


def _align_events(src: Order, dst: Order, m_src: Callable[[str], str],
                  m_dst: Callable[[str], str]) -> dict[int, int]:
    """Map events of `src` onto events of `dst` by the overlap of their (mapped) lemmas."""
    mapping: dict[int, int] = {}
    for i, ev in enumerate(src.events):
        words = {m_src(w) for w in ev}
        best, best_score = None, 0.0
        for j, other in enumerate(dst.events):
            o = {m_dst(w) for w in other}
            score = len(words & o) / len(words | o)
            if score > best_score:
                best, best_score = j, score
        if best is not None:
            mapping[i] = best
    return mapping


def _relation(rels: frozenset[tuple[int, int, str]], i: int, j: int) -> str | None:
    """The relation between events i and j: "before" (i first), "after" (j first), "while"."""
    if (i, j, BEFORE) in rels:
        return BEFORE
    if (j, i, BEFORE) in rels:
        return "after"
    if (min(i, j), max(i, j), WHILE) in rels:
        return WHILE
    return None


def order_violations(orig: Order, cand: Order, m_cand: Callable[[str], str]) -> int:
    """Temporal relations reversed, changed, dropped or added by the candidate.

    Adding "while" where the original said "and" is not counted; adding a sequence is. In the
    same way, "while" turned into "and" or a participle ("walks, clacking") is not counted:
    both say the events overlap or co-occur; turning it into a sequence is.

    A relation whose events cannot be found in the other text counts as dropped only when the
    other text has no connective of that kind at all.
    """
    same = lambda w: w  # noqa: E731 - the original's lemmas are already in original space
    fwd = _align_events(orig, cand, same, m_cand)
    back = _align_events(cand, orig, m_cand, same)
    violations = 0
    for i, j, kind in orig.relations:
        if i in fwd and j in fwd and fwd[i] != fwd[j]:
            found = _relation(cand.relations, fwd[i], fwd[j])
            violations += found != kind and not (kind == WHILE and found is None)
        elif kind != WHILE and kind not in cand.kinds:
            violations += 1
    for i, j, kind in cand.relations:
        if kind == WHILE:
            continue  # "and" -> "while" states no new order: captions' "and" is co-occurrence
        if i in back and j in back and back[i] != back[j]:
            if _relation(orig.relations, back[i], back[j]) is None:
                violations += 1  # an order the original does not state
        elif kind not in orig.kinds:
            violations += 1
    return violations


# ----------------------------------------------------------------------------- all facts
@dataclass(frozen=True)
class Facts:
    numbers: Counter[str]
    negations: int
    roles: frozenset[RoleFact]
    roles_fine: frozenset[RoleFact]
    order: Order
    words: frozenset[str] = field(default_factory=frozenset)  # content lemmas


def extract(doc: Doc) -> Facts:
    coarse, fine = roles(doc)
    return Facts(
        numbers=numbers(doc),
        negations=negations(doc),
        roles=coarse,
        roles_fine=fine,
        order=order(doc),
        words=frozenset(lemma(t) for t in doc if is_content(t) or t.pos_ == "PRON"),
    )


@dataclass(frozen=True)
class FactCheck:
    number_diff: int
    negation_diff: int
    order_violations: int
    role_swaps: int
    reattachments: int


Aligner = Callable[[list[str], list[str]], dict[str, str]]


def compare_facts(orig: Facts, cand: Facts, aligner: Aligner | None = None) -> FactCheck:
    """Compare the candidate's facts with the original's (see module docstring)."""
    mapping: dict[str, str] = {}
    if aligner is not None:
        only_c = sorted(cand.words - orig.words)
        only_o = sorted(orig.words - cand.words)
        if only_c and only_o:
            mapping = aligner(only_c, only_o)

    def m(word: str) -> str:
        return mapping.get(word, word)

    cand_roles = {_map_fact(f, m) for f in cand.roles}
    cand_fine = {_map_fact(f, m) for f in cand.roles_fine}
    cand_words = {m(w) for w in cand.words}
    return FactCheck(
        number_diff=number_diff(orig.numbers, cand.numbers),
        negation_diff=abs(orig.negations - cand.negations),
        order_violations=order_violations(orig.order, cand.order, m),
        role_swaps=max(role_swaps(orig.roles, cand_roles), role_swaps(orig.roles_fine, cand_fine)),
        reattachments=reattachments(orig.roles, cand_roles, set(orig.words), cand_words),
    )
