"""A CLAP small enough to learn the scenes on 2 CPU cores in minutes: transformers' own
ClapModel (HTSAT audio tower, RoBERTa text tower) at tiny sizes, a coarse 16 kHz log-mel front end
of 126 frames x 32 bands (80 ms hop; a 64x64 spectrogram image instead of 256x256, about 20x
less audio work: 0.07 s for a batch of 32 forward and backward on one busy core),
and a byte-level BPE tokenizer trained on the training texts only.

Everything downstream (DualEncoder, MultiViewClipLoss, encode_batch, AdamW) is the package's
real training code; only the sizes differ from laion/clap-htsat-unfused.
"""

from __future__ import annotations

from typing import Any

import torch

from robustclap.training.audio import AudioFrontEnd
from robustclap.training.model import ClapBundle

MAX_TEXT_LEN = 77
SAMPLE_RATE = 16_000  # the rate bench/scenes composes at (its sources.SAMPLE_RATE; a test checks)


def scene_frontend() -> AudioFrontEnd:
    """10 s at 16 kHz, hop 1280 -> 126 frames x 32 mel bands; short scenes padded with silence
    (repeat-padding would add events and break the counts in the captions)."""
    from transformers import ClapFeatureExtractor

    extractor = ClapFeatureExtractor(
        feature_size=32, sampling_rate=SAMPLE_RATE, hop_length=1280, fft_window_size=1024,
        max_length_s=10, frequency_min=50, frequency_max=8000, truncation="rand_trunc",
        padding="pad")
    return AudioFrontEnd(extractor, "rand_trunc", "pad")


def build_tokenizer(texts: list[str], vocab_size: int = 1000) -> Any:
    """Byte-level BPE learnt from `texts`, RoBERTa's special tokens at RoBERTa's ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(sorted(set(texts)), trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        unk_token="<unk>", mask_token="<mask>", model_max_length=MAX_TEXT_LEN)


def scene_config(vocab_size: int) -> Any:
    from transformers import ClapConfig

    text = dict(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2,
                num_attention_heads=2, intermediate_size=128,
                max_position_embeddings=MAX_TEXT_LEN + 4)
    audio = dict(spec_size=64, num_mel_bins=32, patch_embeds_hidden_size=32, hidden_size=64,
                 depths=[1, 1], num_attention_heads=[2, 2], window_size=4, patch_size=8,
                 patch_stride=[8, 8], mlp_ratio=2.0)
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=64)


def build_scene_clap(tokenizer: Any, seed: int) -> ClapBundle:
    """A fresh random model (seeded) with the scene front end and the given tokenizer."""
    from transformers import ClapModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ClapModel(scene_config(len(tokenizer)))
    return ClapBundle(model, scene_frontend(), tokenizer)
