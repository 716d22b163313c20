"""Paraphrase robustness of a CLAP checkpoint: retrieval with original, level-1 and level-2
queries (and the drop from original to each level), plus zero-shot classification.

The drop for level k is measured on the same captions: original queries restricted to the
captions that have a level-k paraphrase, minus the level-k queries. Audio crops are seeded by
clip id, so two runs (or two models) see identical inputs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.progress import stage_progress
from robustclap.contracts.schema import col as c
from robustclap.training.audio import AudioFrontEnd, AudioProblem, find_audio_files, load_audio
from robustclap.training.data import Skipped, paraphrases_by_caption, read_captions, read_corpus
from robustclap.training.metrics import KS, accuracy, retrieval_metrics
from robustclap.training.model import ClapBundle, load_model, tokenize

QUERY_SETS = ("original", "level1", "level2")
METRICS = tuple(f"R@{k}" for k in KS) + ("mAP@10",)
DEFAULT_TEMPLATES = ("this is the sound of {label}", "the sound of {label}",
                     "a recording of {label}")


@dataclass(frozen=True)
class Query:
    caption_id: str
    clip_id: str
    text: str


def build_queries(captions: pd.DataFrame, corpus: pd.DataFrame, split: str,
                  all_paraphrases: bool = False) -> dict[str, list[Query]]:
    """Original captions of `split` ("all" for every split) and their level-1/2 paraphrases
    (the best-ranked one per caption, or every accepted one with `all_paraphrases`)."""
    caps = captions if split == "all" else captions[captions[c.split] == split]
    if caps.empty:
        found = sorted(set(captions[c.split]))
        raise RobustclapError(f"no captions in split {split!r} (splits present: {found})")
    caps = caps.sort_values(c.caption_id, kind="stable")
    paras = paraphrases_by_caption(corpus[corpus[c.caption_id].isin(set(caps[c.caption_id]))])
    out: dict[str, list[Query]] = {name: [] for name in QUERY_SETS}
    for row in caps.itertuples(index=False):
        cid, clip = str(row.caption_id), str(row.clip_id)
        out["original"].append(Query(cid, clip, str(row.caption)))
        for level in (1, 2):
            texts = paras.get((cid, level), ())
            for text in texts if all_paraphrases else texts[:1]:
                out[f"level{level}"].append(Query(cid, clip, text))
    return out


def _device(name: str = "auto") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


FeatureCache = dict[tuple[str, str], tuple[np.ndarray, bool] | AudioProblem]


def _frontend_key(fe: AudioFrontEnd) -> str:
    return fe.cache_key


def _clip_features(fe: AudioFrontEnd, clip_id: str, path: Path, silence_peak: float,
                   cache: FeatureCache | None, key: str) -> tuple[np.ndarray, bool]:
    """Features of one clip (crop seeded by its id), memoised in `cache` if given: the
    retrieval clips, the zero-shot clips and a --compare model share decoded features."""
    if cache is not None and (str(path), key) in cache:
        hit = cache[(str(path), key)]
        if isinstance(hit, AudioProblem):
            raise hit
        return hit
    try:
        wave = load_audio(path, fe.sampling_rate, silence_peak)
        out = fe.features(wave, np.random.default_rng(zlib.crc32(clip_id.encode())))
    except AudioProblem as exc:
        if cache is not None:
            cache[(str(path), key)] = exc
        raise
    if cache is not None:
        cache[(str(path), key)] = out
    return out


@torch.no_grad()
def embed_audio(bundle: ClapBundle, files: dict[str, Path], device: torch.device,
                batch_size: int = 16, silence_peak: float = 1e-4,
                cache: FeatureCache | None = None) -> tuple[list[str], np.ndarray, Skipped]:
    """Normalised audio embeddings of every usable clip (sorted ids), and the skipped ones."""
    model, fe = bundle.model.to(device).eval(), bundle.frontend
    ids, chunks, skipped, mels, longer = [], [], Skipped(), [], []
    key = _frontend_key(fe)

    def flush() -> None:
        if not mels:
            return
        feats = torch.from_numpy(np.stack(mels)).to(device)
        is_longer = torch.tensor([[x] for x in longer], dtype=torch.bool, device=device)
        out = model.get_audio_features(input_features=feats, is_longer=is_longer)
        chunks.append(out.pooler_output.float().cpu().numpy())
        mels.clear()
        longer.clear()

    with stage_progress("embed audio", len(files), "clips") as advance:
        for clip_id in sorted(files):
            advance(1)
            try:
                mel, is_longer = _clip_features(fe, clip_id, files[clip_id], silence_peak,
                                                cache, key)
            except AudioProblem as exc:
                skipped.rows.append((clip_id, exc.reason, exc.detail))
                continue
            ids.append(clip_id)
            mels.append(mel)
            longer.append(is_longer)
            if len(mels) == batch_size:
                flush()
        flush()
    dim = model.config.projection_dim
    return ids, (np.concatenate(chunks) if chunks else np.zeros((0, dim))), skipped


@torch.no_grad()
def embed_text(bundle: ClapBundle, texts: list[str], device: torch.device,
               batch_size: int = 64, max_len: int = 77) -> np.ndarray:
    model = bundle.model.to(device).eval()
    chunks = []
    for i in range(0, len(texts), batch_size):
        enc = tokenize(bundle.tokenizer, texts[i:i + batch_size], max_len, device)
        chunks.append(model.get_text_features(**enc).pooler_output.float().cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, model.config.projection_dim))


def retrieval_both_ways(audio: np.ndarray, clip_ids: list[str], text: np.ndarray,
                        queries: list[Query]) -> dict[str, Any]:
    """text->audio (one relevant clip per query) and audio->text (all of a clip's texts)."""
    pos = {clip: i for i, clip in enumerate(clip_ids)}
    relevant = np.zeros((len(queries), len(clip_ids)), dtype=bool)
    relevant[np.arange(len(queries)), [pos[q.clip_id] for q in queries]] = True
    sim = text @ audio.T
    with_text = relevant.any(axis=0)
    return {
        "queries": len(queries),
        "clips": int(with_text.sum()),
        "t2a": retrieval_metrics(sim, relevant),
        "a2t": retrieval_metrics(sim.T[with_text], relevant.T[with_text]),
    }


def _diff(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {m: round(a[m] - b[m], 6) for m in a}


def evaluate_model(model_ref: str, audio_dir: str | Path, captions_path: str | Path,
                   corpus_path: str | Path | None = None, split: str = "test",
                   zero_shot_meta: str | Path | None = None,
                   zero_shot_audio: str | Path | None = None,
                   templates: tuple[str, ...] = DEFAULT_TEMPLATES, all_paraphrases: bool = False,
                   device: str = "auto", batch_size: int = 16, max_len: int = 77,
                   bundle: ClapBundle | None = None, cache: FeatureCache | None = None
                   ) -> dict[str, Any]:
    """All metrics of one model as a JSON-ready dict. Pass the same `cache` (a dict) to
    evaluate several models on the same audio without decoding it again."""
    cache = {} if cache is None else cache
    bundle = bundle or load_model(model_ref)
    dev = _device(device)
    queries = build_queries(read_captions(captions_path), read_corpus(corpus_path), split,
                            all_paraphrases)
    files = find_audio_files(audio_dir)
    wanted = {q.clip_id for q in queries["original"]}
    missing = sorted(wanted - set(files))
    clip_ids, audio, skipped = embed_audio(
        bundle, {k: v for k, v in files.items() if k in wanted}, dev, batch_size, cache=cache)
    skipped.rows.extend((clip, "missing", "no audio file") for clip in missing)
    if not clip_ids:
        raise RobustclapError(f"no usable audio for split {split!r} in {audio_dir}")
    usable = set(clip_ids)
    result: dict[str, Any] = {
        "model": str(model_ref), "split": split, "clips": len(clip_ids),
        "skipped_clips": skipped.counts(), "retrieval": {}, "drop": {},
    }
    embedded: dict[str, tuple[list[Query], np.ndarray]] = {}
    for name in QUERY_SETS:
        qs = [q for q in queries[name] if q.clip_id in usable]
        if not qs:
            continue
        emb = embed_text(bundle, [q.text for q in qs], dev, max_len=max_len)
        embedded[name] = (qs, emb)
        result["retrieval"][name] = retrieval_both_ways(audio, clip_ids, emb, qs)
    orig_qs, orig_emb = embedded["original"]
    for name in QUERY_SETS[1:]:
        if name not in embedded:
            continue
        have = {q.caption_id for q in embedded[name][0]}
        keep = [i for i, q in enumerate(orig_qs) if q.caption_id in have]
        base = retrieval_both_ways(audio, clip_ids, orig_emb[keep], [orig_qs[i] for i in keep])
        level = result["retrieval"][name]
        result["drop"][name] = {
            "captions": len(have), "original_same_captions": base,
            "t2a": _diff(base["t2a"], level["t2a"]), "a2t": _diff(base["a2t"], level["a2t"]),
        }
    if zero_shot_meta is not None:
        result["zero_shot"] = zero_shot(bundle, zero_shot_meta, zero_shot_audio, templates, dev,
                                        batch_size, max_len, cache)
    return result


def zero_shot(bundle: ClapBundle, meta_csv: str | Path, audio_dir: str | Path | None,
              templates: tuple[str, ...], device: torch.device, batch_size: int = 16,
              max_len: int = 77, cache: FeatureCache | None = None) -> dict[str, Any]:
    """Zero-shot accuracy on an ESC-50 style folder: meta CSV with `filename` and `category`
    (or `label`); each class embedding is the mean of its prompt embeddings, renormalised."""
    meta_csv = Path(meta_csv)
    try:
        meta = pd.read_csv(meta_csv)
    except (OSError, pd.errors.ParserError) as exc:
        raise RobustclapError(f"cannot read zero-shot meta {meta_csv}: {exc}") from exc
    label_col = next((x for x in ("category", "label") if x in meta.columns), None)
    if "filename" not in meta.columns or label_col is None:
        raise RobustclapError(f"{meta_csv} needs columns filename and category (or label)")
    if audio_dir is None:
        audio_dir = meta_csv.parent / "audio"
        audio_dir = audio_dir if audio_dir.is_dir() else meta_csv.parent
    files = find_audio_files(audio_dir)
    label_of = {Path(f).stem: str(lab) for f, lab in zip(meta["filename"], meta[label_col],
                                                         strict=True)}
    ids, audio, skipped = embed_audio(bundle, {k: files[k] for k in label_of if k in files},
                                      device, batch_size, cache=cache)
    skipped.rows.extend((k, "missing", "no audio file") for k in label_of if k not in files)
    if not ids:
        raise RobustclapError(f"no usable audio for {meta_csv} in {audio_dir}")
    classes = sorted({label_of[k] for k in ids})
    prompts = [t.format(label=cls.replace("_", " ")) for cls in classes for t in templates]
    text = embed_text(bundle, prompts, device, max_len=max_len)
    text = text.reshape(len(classes), len(templates), -1).mean(axis=1)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    labels = np.array([classes.index(label_of[k]) for k in ids])
    sim = audio @ text.T
    return {
        "meta": str(meta_csv), "clips": len(ids), "classes": len(classes),
        "top1": accuracy(sim, labels, 1), "top5": accuracy(sim, labels, min(5, len(classes))),
        "templates": list(templates), "skipped_clips": skipped.counts(),
    }
