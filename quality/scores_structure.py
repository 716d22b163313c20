"""Scorers that read the text itself: wording and facts (spaCy), and degenerate output.

Each scorer turns a batch of (original, candidate) pairs into one payload of stored columns per
pair; the batch parses every distinct text once with `nlp.pipe`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata

from robustclap.quality import wordnet
from robustclap.quality.cache import Payload
from robustclap.quality.config import StructureConfig, SurfaceConfig
from robustclap.quality.degenerate import EchoCheck, compile_patterns, ngrams, surface
from robustclap.quality.events import Lexicon, Matcher, Similarity, align, scene
from robustclap.quality.facts import Aligner, compare_facts, extract
from robustclap.quality.lexical import compare_wording, wordforms
from robustclap.quality.nlp import parse
from robustclap.quality.scores_semantic import encoder_vocab, model_label
from robustclap.quality.text import words

# Code versions, part of each scorer's cache identity: bump one whenever a change to its code
# (lexical.py / facts.py, or degenerate.py) can change a stored score, so old cache entries
# are not reused.
STRUCTURE_VERSION = 12  # 11: WordNet matches, soft coverage; 12: fronted clause + comma
# + main clause is no fragment
SURFACE_VERSION = 1


def _package_version(name: str) -> str:
    try:
        return metadata.version(name.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return "unversioned"


class StructureScorer:
    """Level-aware wording (lexical.py), caption facts (facts.py) and the sound-event
    alignment (events.py) of each pair, from one parse of each text."""

    columns = (
        "content_recall", "content_novelty", "token_edit", "structure_edit",
        "number_diff", "negation_diff", "order_violations", "role_swaps", "reattachments",
        "align_missing", "align_added", "align_synonyms", "align_synonym_sim", "align_roles",
        "align_wordnet", "align_general", "align_specific", "align_units", "cover_caption_min",
        "cover_caption_mean", "cover_candidate_min", "cover_candidate_mean", "extra_sentences",
        "definition", "fragment", "same_content", "alignment",
    )

    def __init__(self, config: StructureConfig, aligner: Aligner | None,
                 aligner_identity: str = "none") -> None:
        self.config = config
        self.aligner = aligner
        spacy_id = f"{config.spacy_model}@{_package_version(config.spacy_model)}"
        align = f"{aligner_identity}@{config.align_min_sim}"
        neutral = ",".join(sorted(config.neutral_words))
        self.neutral = frozenset(config.neutral_words)
        self.matcher: Matcher | None = getattr(aligner, "matches", None)
        self.similarity: Similarity | None = getattr(aligner, "similarity", None)
        self.lexicon: Lexicon | None = None
        lexicon_id = "none"
        if config.wordnet:
            self.lexicon = wordnet.relation
            lexicon_id = wordnet.version()
        self.identity = (f"structure:{spacy_id}|align:{align}|lexicon:{lexicon_id}"
                         f"|neutral:{neutral}|v{STRUCTURE_VERSION}")
        self.n_texts = 0  # texts actually parsed

    def compute(self, pairs: Sequence[tuple[str, str]]) -> list[Payload]:
        texts = list(dict.fromkeys(t for pair in pairs for t in pair))
        docs = dict(zip(texts, parse(texts, self.config.spacy_model, self.config.batch_size),
                        strict=True))
        self.n_texts += len(texts)
        facts = {t: extract(d) for t, d in docs.items()}
        forms = {t: wordforms(d) for t, d in docs.items()}
        scenes = {t: scene(d, self.neutral) for t, d in docs.items()}
        prepare = getattr(self.aligner, "prepare", None)
        if prepare is not None:  # embed the batch's unmatched words in one call
            # every content word of both scenes: the soft coverage compares all of them
            prepare(sorted({w for o, c in pairs
                            for w in (facts[o].words ^ facts[c].words)
                            | scenes[o].words | scenes[c].words}))
        out: list[Payload] = []
        for orig, cand in pairs:
            wording = compare_wording(forms[orig], forms[cand])
            check = compare_facts(facts[orig], facts[cand], self.aligner)
            events = align(scenes[orig], scenes[cand], self.matcher, self.lexicon,
                           self.similarity)
            out.append({**asdict(wording), **asdict(check), **asdict(events)})
        release = getattr(self.aligner, "release", None)
        if release is not None:
            release()
        return out


def prompt_texts() -> str:
    """The shipped prompt templates' text (both levels): what a prompt echo would repeat."""
    from robustclap.prompts import LEVELS, load_template

    parts = []
    for level in LEVELS:
        template = load_template(level)
        parts += [template.system, template.user.replace("{caption}", "")]
    return "\n".join(parts)


class SurfaceScorer:
    """Degenerate-output measures (degenerate.py); the patterns are part of its identity."""

    columns = (
        "norm_identical", "length_ratio", "repeat_frac", "english_share", "n_sentences",
        "list_like", "meta_text", "echo",
    )

    def __init__(self, config: SurfaceConfig, vocab_model: str) -> None:
        self.config = config
        self.vocab_model = vocab_model
        self.meta = compile_patterns(config.meta_patterns)
        prompt_text = prompt_texts() if config.prompt_ngram else ""
        self.echo = EchoCheck(
            compile_patterns(config.echo_patterns),
            frozenset(ngrams(words(prompt_text), config.prompt_ngram)),
            config.prompt_ngram,
        )
        patterns = "\n".join(
            [*config.meta_patterns, "--", *config.echo_patterns, "--", prompt_text]
        )
        digest = hashlib.sha256(patterns.encode()).hexdigest()[:12]
        self.identity = f"surface:{model_label(vocab_model)}|patterns:{digest}|v{SURFACE_VERSION}"

    def compute(self, pairs: Sequence[tuple[str, str]]) -> list[Payload]:
        vocab = encoder_vocab(self.vocab_model)
        return [asdict(surface(o, c, vocab, self.meta, self.echo)) for o, c in pairs]
