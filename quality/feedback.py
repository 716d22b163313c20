"""What the gate found, in words the generating model can act on in its next round.

A (caption, level) with no accepted candidate is regenerated; its next prompt shows the model
its best rejected rewrite and this text ("it dropped 'rain' and added 'thunder'"). Only what the
gate measured is said: dropped and added words from the event alignment, changed roles, counts
and attributes, the failed gates by name. A candidate that failed generation (no text) gives
no feedback.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Gate name → the sentence the model reads. Gates not named here are said generically.
_SAY: dict[str, str] = {
    "identical": "it repeats the caption word for word",
    "near_copy": "it is almost the same as the caption",
    "near_duplicate_original": "it is almost the same as the caption",
    "restructure": "the sentence structure is not changed enough",
    "vocabulary_change": "too many words are the same as in the caption",
    "content_recall": "it changes the caption's words",
    "synonym_level1": "it replaces caption words with other words",
    "weak_synonym": "some replacement words do not mean the same sound",
    "extra_sentences": "it adds extra sentences",
    "definition": "it explains what something is instead of describing the sounds",
    "fragment": "it is not a complete sentence",
    "meta_text": "it talks about the task instead of describing the sounds",
    "echo": "it repeats the instruction",
    "list": "it is a list, not one sentence",
    "non_english": "it is not plain English",
    "repetition": "it repeats itself",
    "length_ratio": "its length is very different from the caption",
    "numbers": "a number or count changed",
    "negation": "a negation ('no', 'not', 'without') changed",
    "temporal_order": "the order of events changed",
    "role_swap": "it swaps who makes which sound",
    "reattachment": "it attaches a sound to the wrong source",
    "event_roles": "it changes who makes which sound",
    "sbert": "the meaning drifted from the caption",
    "bertscore": "the meaning drifted from the caption",
    "added_content": "it adds new content",
}
_FROM_ALIGNMENT = {"event_missing", "event_added", "event_roles", "extra_sentences",
                   "definition", "fragment"}


def _quoted(words: list[str], limit: int = 4) -> str:
    shown = [f"'{w}'" for w in dict.fromkeys(words)][:limit]
    return ", ".join(shown)


def _in(word: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(word)}", text, re.IGNORECASE) is not None


def _role(role: dict[str, Any]) -> str:
    """One finding of the event alignment (events.py, event_details.py) in words."""
    word, slot = role["action"], role.get("slot")
    was, now = role.get("caption", ""), role.get("candidate", "")
    if slot == "number":
        number = {"sing": "singular", "plur": "plural"}
        return f"it makes '{word}' {number.get(now, now)} where the caption has it " \
            f"{number.get(was, was)}"
    if slot == "attribute":
        return f"it moves '{word}' from '{was}' to '{now}'"
    if slot == "count" and was:
        return f"it does not keep '{word}' happening {was} time(s)"
    if slot == "count":
        return f"it adds a count ({now}) to '{word}' that the caption does not give"
    return f"it changes who or what does '{word}'"


def describe(failed: list[str], alignment: str | None, caption: str = "") -> str:
    """One short paragraph: alignment findings first (concrete words), then other gates.
    An "added" word that the caption has is a repetition, not a new sound: said as such."""
    parts: list[str] = []
    detail: dict[str, Any] = {}
    if alignment:
        try:
            detail = json.loads(alignment)
        except ValueError:
            detail = {}
    if detail.get("missing"):
        parts.append(f"it dropped {_quoted(detail['missing'])}")
    added = [w for w in detail.get("added") or [] if not _in(w, caption)]
    repeated = [w for w in detail.get("added") or [] if _in(w, caption)]
    if added:
        parts.append(f"it added {_quoted(added)}, which the caption does not say")
    if repeated:
        parts.append(f"it repeats {_quoted(repeated)}")
    for role in (detail.get("roles") or [])[:2]:
        said = _role(role) if isinstance(role, dict) and role.get("action") else ""
        if said and said not in parts:
            parts.append(said)
    if detail.get("run_on"):
        parts.append("it glues two clauses together without 'and' or a comma")
    for name in failed:
        if name in _FROM_ALIGNMENT and detail and name not in ("extra_sentences", "definition",
                                                               "fragment"):
            continue  # already said with its words
        text = _SAY.get(name, f"it failed the {name.replace('_', ' ')} check")
        if text not in parts:
            parts.append(text)
    return "; ".join(parts[:5]) + "." if parts else ""


def pick(rejected: list[tuple[str | None, list[str], dict[str, Any], float | None]],
         caption: str = "") -> tuple[str, str] | None:
    """(previous, feedback) from one (caption, level)'s rejected candidates — each given as
    (text, failed gates, scores, rank score). The one with the fewest failed gates, then the
    highest rank score, is shown: the nearest miss is the easiest to fix."""
    usable = [r for r in rejected if r[0] and r[1]]
    if not usable:
        return None
    text, failed, scores, _ = min(usable, key=lambda r: (len(r[1]), -(r[3] or 0.0)))
    said = describe(failed, scores.get("alignment"), caption)
    return (text, said) if said else None
