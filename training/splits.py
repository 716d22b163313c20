"""The split guard: refuse to train when anything of a validation/test clip would be trained on.

Paraphrases inherit their clip's split, so the rule is stated on clips. A clip is held out when
any caption or paraphrase row puts it in a split that is not a training split. Training is
refused when a held-out clip has a caption or a paraphrase in the training set, and when a
paraphrase row disagrees with its caption about the clip or the split (a corpus built from an
older caption table: its split labels cannot be trusted).
"""

from __future__ import annotations

import pandas as pd

from robustclap.contracts.errors import RobustclapError
from robustclap.contracts.schema import col

SHOW = 5  # offending ids quoted in the error message


class SplitLeakError(RobustclapError):
    """The training set would contain held-out material."""


def _quote(values: pd.Series | list) -> str:
    values = sorted({str(v) for v in values})
    more = f" (+{len(values) - SHOW} more)" if len(values) > SHOW else ""
    return ", ".join(values[:SHOW]) + more


def check_splits(captions: pd.DataFrame, corpus: pd.DataFrame, train_splits: list[str]) -> None:
    """Raise SplitLeakError if the training view would include held-out clips or texts."""
    train = set(train_splits)
    cap_train = captions[captions[col.split].isin(train)]
    held_out = set(captions.loc[~captions[col.split].isin(train), col.clip_id])
    held_out |= set(corpus.loc[~corpus[col.split].isin(train), col.clip_id])
    problems: list[str] = []

    leaked = cap_train[cap_train[col.clip_id].isin(held_out)]
    if len(leaked):
        problems.append(
            f"{leaked[col.clip_id].nunique()} clip(s) have captions in a training split and are "
            f"also in a held-out split: {_quote(leaked[col.clip_id])}"
        )

    joined = corpus.merge(
        cap_train[[col.caption_id, col.clip_id, col.split]],
        on=col.caption_id, how="inner", suffixes=("", "_caption"),
    )
    moved = joined[(joined[col.clip_id] != joined[f"{col.clip_id}_caption"])
                   | (joined[col.split] != joined[f"{col.split}_caption"])]
    if len(moved):
        problems.append(
            f"{len(moved)} paraphrase row(s) of training captions disagree with the caption "
            f"table on clip or split (paraphrases inherit their clip's split): captions "
            f"{_quote(moved[col.caption_id])}"
        )
    para_leak = joined[joined[col.clip_id].isin(held_out)]
    if len(para_leak):
        problems.append(
            f"{len(para_leak)} paraphrase(s) of held-out clips would be trained on: clips "
            f"{_quote(para_leak[col.clip_id])}"
        )
    if problems:
        raise SplitLeakError(
            "refusing to train: validation/test material would enter the training set\n  - "
            + "\n  - ".join(problems)
            + f"\n(training splits: {sorted(train)})"
        )
