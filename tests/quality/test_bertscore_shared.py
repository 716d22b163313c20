"""BERTScore from the SBERT pass's token embeddings equals bert-score's own, one pass per text."""

from __future__ import annotations

import numpy as np
import pytest

PAIRS = [
    ("A dog barks loudly while cars pass by.", "While cars pass by, a dog barks loudly."),
    ("A dog barks loudly while cars pass by.", "A hound yelps as vehicles drive past.  "),
    ("Rain falls on a metal roof.", "Water drums on tin overhead."),
    ("Birds chirp.", "birds"),
    # longer than the encoder's 256 tokens: bert-score itself scores this pair
    ("A man talks.", "a man talks and " * 120),
]


@pytest.fixture(scope="module")
def reference(config):
    from bert_score import BERTScorer

    from robustclap.quality.scores_semantic import PACKAGED_LAYERS, resolve_model

    scorer = BERTScorer(model_type=resolve_model(config.scorers.bertscore.model),
                        num_layers=PACKAGED_LAYERS, lang="en", batch_size=4)
    p, r, f = scorer.score([c for _, c in PAIRS], [o for o, _ in PAIRS], batch_size=4)
    return {"bertscore_p": p.numpy(), "bertscore_r": r.numpy(), "bertscore_f1": f.numpy()}


def test_shared_pass_matches_bert_score(config, reference):
    from robustclap.quality.cache import ScoreCache
    from robustclap.quality.scoring import Scoring

    with ScoreCache(None) as cache:
        scoring = Scoring(config, cache)
        got = scoring.score(PAIRS)
        assert scoring.bertscore.shares_pass()
        # all but the over-long pair scored from the SBERT pass, without a second forward
        assert (scoring.bertscore.n_pairs, scoring.bertscore.n_shared) == (5, 4)
    for name, want in reference.items():
        mine = np.array([g[name] for g in got])
        np.testing.assert_allclose(mine, want, atol=1e-5, err_msg=name)


def test_another_bertscore_model_is_not_shared(config):
    from robustclap.quality.cache import ScoreCache
    from robustclap.quality.scoring import Scoring

    s = config.scorers
    bertscore = s.bertscore.model_copy(update={"model": "some/other-model"})
    other = config.model_copy(update={"scorers": s.model_copy(update={"bertscore": bertscore})})
    with ScoreCache(None) as cache:
        scoring = Scoring(other, cache)
        assert scoring.bertscore.shared is None
        assert not scoring.encoder.keep_tokens
