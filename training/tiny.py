"""A tiny random CLAP (about 50k parameters) for tests and offline trials, no hub needed.

It keeps the real audio front end (48 kHz, 10 s, 64 mels, 256x256 spectrogram image) so data,
features and checkpoints go through exactly the code a laion/clap-htsat-unfused run does; only
the towers are small. The tokenizer is a byte-level BPE trained here on a fixed word list, with
RoBERTa's special tokens at RoBERTa's ids (<s>=0, <pad>=1, </s>=2), as CLAP's text tower expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from robustclap.training.audio import AudioFrontEnd
from robustclap.training.model import ClapBundle

_WORDS_TEXT = """a an the of and with in on at to from by while then is are sound sounds noise heard
someone people person man woman child baby dog cat cow pig sheep hen rooster frog crow owl horse
duck bird birds insects crickets bark barks barking meow meows moo moos oink crows chirping
chirp sings singing croaks buzz buzzing rain thunder storm wind waves sea water drops pouring
flush toilet fire crackling footsteps walking door knock creaks clock tick alarm bells church
car horn engine train helicopter airplane siren chainsaw saw vacuum cleaner washing machine
glass breaking can opening keyboard typing mouse click clapping laughing crying coughing
sneezing snoring breathing drinking brushing teeth fireworks loud quiet distant close softly
repeatedly continuous short long background recording this that there"""
_WORDS = _WORDS_TEXT.split()


def build_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator([" ".join(_WORDS[i:i + 12]) for i in range(0, len(_WORDS), 12)],
                            trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        unk_token="<unk>", mask_token="<mask>", model_max_length=77,
    )


def tiny_config(vocab_size: int) -> Any:
    from transformers import ClapConfig

    text = dict(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=2, intermediate_size=64, max_position_embeddings=96)
    audio = dict(patch_embeds_hidden_size=16, hidden_size=32, depths=[1, 1],
                 num_attention_heads=[1, 2], window_size=8, patch_size=8, patch_stride=[8, 8],
                 mlp_ratio=2.0)
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=32)


def build_tiny_clap(seed: int = 0) -> ClapBundle:
    """Random tiny ClapModel + the real ClapFeatureExtractor defaults + the tiny tokenizer."""
    from transformers import ClapFeatureExtractor, ClapModel

    tokenizer = build_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ClapModel(tiny_config(len(tokenizer)))
    extractor = ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
    return ClapBundle(model, AudioFrontEnd(extractor, "rand_trunc", "repeatpad"), tokenizer)


def save_tiny_clap(folder: str | Path, seed: int = 0) -> Path:
    """Write a loadable tiny checkpoint (model, feature extractor, tokenizer) to `folder`."""
    folder = Path(folder)
    bundle = build_tiny_clap(seed)
    bundle.model.save_pretrained(folder)
    bundle.frontend.extractor.save_pretrained(folder)
    bundle.tokenizer.save_pretrained(folder)
    return folder
