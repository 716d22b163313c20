"""Sound scenes: one to three events, counted repeats, in sequence or overlapping, with exact
captions from a small grammar (and, for test scenes, a held-out rewording of the same scene).

A scene is a recipe (which segment, where, how loud), so it is small to store and renders to
the same waveform every time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from robustclap.bench.scenes.phrases import (
    COUNT_REWORDINGS,
    COUNT_WORDS,
    OVERLAP_REWORDINGS,
    OVERLAP_TEMPLATES,
    PHRASES,
    REWORDINGS,
    SEQUENCE_REWORDINGS,
    SEQUENCE_TEMPLATES,
)
from robustclap.bench.scenes.sources import SAMPLE_RATE, Segment
from robustclap.contracts.errors import RobustclapError

MIN_S, MAX_S = 5.0, 10.0
N_EVENTS_P = {1: 0.3, 2: 0.45, 3: 0.25}
COUNT_P = {1: 0.4, 2: 0.35, 3: 0.25}
OVERLAP_P = 0.4


@dataclass(frozen=True)
class Event:
    cls: str
    source: str  # Segment.source.source_id
    count: int
    onsets_s: tuple[float, ...]  # one per repeat
    gain: float
    variant: int  # which phrase of the class the caption uses


@dataclass(frozen=True)
class Scene:
    scene_id: str
    split: str
    duration_s: float
    events: tuple[Event, ...]
    relations: tuple[str, ...]  # "sequence" | "overlap", between consecutive events
    templates: tuple[int, ...]  # which template of each relation the caption uses
    caption: str
    reworded: str  # the same scene in the held-out words

    def events_json(self) -> str:
        return json.dumps([asdict(e) for e in self.events])


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _with_count(phrase: str, count: int, words: dict[int, str]) -> str:
    return f"{phrase} {words[count]}" if words[count] else phrase


def caption_of(events: tuple[Event, ...], relations: tuple[str, ...],
               templates: tuple[int, ...], reworded: bool = False) -> str:
    """The scene's caption in the training grammar, or in the held-out words."""
    counts = COUNT_REWORDINGS if reworded else COUNT_WORDS

    def forms(e: Event) -> tuple[str, str]:
        if reworded:
            clause, noun = REWORDINGS[e.cls]
        else:
            p = PHRASES[e.cls]
            clause, noun = p.clauses[e.variant], p.nouns[e.variant]
        return _with_count(clause, e.count, counts), _with_count(noun, e.count, counts)

    text = forms(events[0])[0]
    for e, rel, t in zip(events[1:], relations, templates, strict=True):
        if reworded:
            options = SEQUENCE_REWORDINGS if rel == "sequence" else OVERLAP_REWORDINGS
        else:
            options = SEQUENCE_TEMPLATES if rel == "sequence" else OVERLAP_TEMPLATES
        clause, noun = forms(e)
        text = options[t % len(options)].format(a=text, b=clause, b_noun=noun)
    return _sentence(text)


def grammar_views(scene: Scene) -> tuple[str | None, str | None]:
    """Two rewrites of the scene's caption in the training grammar, faithful by construction
    (an ablation's views: what a plentiful, exact paraphrase corpus would give): (1) the same
    phrases in other relation templates, (2) the class's next phrase variant too. None where
    the grammar has no other form (the text would equal the caption)."""
    import dataclasses
    import itertools

    shifted = tuple(dataclasses.replace(e, variant=(e.variant + 1) % len(PHRASES[e.cls].clauses))
                    for e in scene.events)
    combos = list(itertools.product(range(2), repeat=len(scene.relations)))
    level1 = next((t for t in (caption_of(scene.events, scene.relations, c) for c in combos)
                   if t != scene.caption), None)
    level2 = next((t for t in (caption_of(shifted, scene.relations, c) for c in combos)
                   if t not in (scene.caption, level1)), None)
    return level1, level2


def _pick(rng: np.random.Generator, probs: dict[int, float]) -> int:
    keys = list(probs)
    return int(keys[rng.choice(len(keys), p=list(probs.values()))])


def sample_scene(scene_id: str, split: str, by_class: dict[str, list[Segment]],
                 rng: np.random.Generator, tries: int = 50) -> Scene:
    """Draw one scene from the segments of its split; redraw until it lasts 5-10 s."""
    classes = sorted(by_class)
    for _ in range(tries):
        n = min(_pick(rng, N_EVENTS_P), len(classes))
        chosen = [classes[i] for i in rng.choice(len(classes), size=n, replace=False)]
        relations = tuple("overlap" if rng.random() < OVERLAP_P else "sequence"
                          for _ in range(n - 1))
        events, t = [], float(rng.uniform(0.2, 0.8))
        prev_start, end = t, t
        for k, cls in enumerate(chosen):
            seg = by_class[cls][int(rng.integers(len(by_class[cls])))]
            count = _pick(rng, COUNT_P) if PHRASES[cls].countable else 1
            if k > 0:
                t = (prev_start + float(rng.uniform(0.0, 0.3)) if relations[k - 1] == "overlap"
                     else end + float(rng.uniform(0.3, 0.8)))
            length = len(seg.wave) / SAMPLE_RATE
            onsets, o = [], t
            for _ in range(count):
                onsets.append(round(o, 3))
                o += length + float(rng.uniform(0.25, 0.5))
            prev_start = t
            end = max(end, onsets[-1] + length)
            events.append(Event(cls, seg.source.source_id, count, tuple(onsets),
                                round(float(rng.uniform(0.5, 0.9)), 3),
                                int(rng.integers(len(PHRASES[cls].clauses)))))
        duration = max(MIN_S, end + 0.3)
        if duration > MAX_S:
            continue
        templates = tuple(int(rng.integers(8)) for _ in relations)
        ev = tuple(events)
        return Scene(scene_id, split, round(duration, 3), ev, relations, templates,
                     caption_of(ev, relations, templates),
                     caption_of(ev, relations, templates, reworded=True))
    raise RobustclapError(f"no scene of 5-10 s in {tries} draws for {scene_id} "
                          "(event segments too long?)")


def render(scene: Scene, segments: dict[str, Segment], sr: int = SAMPLE_RATE) -> np.ndarray:
    """The scene's waveform (mono float32 at `sr`, the rate `segments` were cut at): each
    repeat of each event added at its onset, the mix scaled down if it would clip."""
    out = np.zeros(int(round(scene.duration_s * sr)), dtype=np.float32)
    for e in scene.events:
        wave = segments[e.source].wave * e.gain
        for onset in e.onsets_s:
            i = int(round(onset * sr))
            j = min(len(out), i + len(wave))
            out[i:j] += wave[: j - i]
    peak = float(np.max(np.abs(out)))
    if peak > 0.95:
        out *= 0.95 / peak
    return out
