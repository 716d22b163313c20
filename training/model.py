"""The CLAP model: loading, freezing, LoRA, the two-tower forward used in training, export.

Any transformers ClapModel works: a hub id (laion/clap-htsat-unfused) or a local folder that
also holds the feature extractor and tokenizer (what `export` writes, and `robustclap tiny-clap`).
The second kind, a two-tower CLAP from packaged pretrained encoders (`two_tower.py`), is
loaded by `load_model` from `two-tower:aisfx+minilm` or from a folder its export wrote.

Logit scale: transformers' ClapModel has two (logit_scale_a and logit_scale_t). LAION trained
CLAP with one, logit_scale_a, for both directions; so does this package. logit_scale_t is frozen
and, on export, set equal to logit_scale_a so transformers' own forward scores consistently.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from robustclap.contracts.errors import RobustclapError
from robustclap.training.audio import AudioFrontEnd

if TYPE_CHECKING:
    from transformers import ClapModel

    from robustclap.training.config import FreezeConfig, LoraConfig

MAX_LOGIT_SCALE = math.log(100.0)  # LAION clamps the learnt temperature at 100


@dataclass
class ClapBundle:
    model: ClapModel  # or a two_tower.TwoTowerClap, which answers the same calls
    frontend: AudioFrontEnd  # or an aisfx front end (same features() / cache_key)
    tokenizer: Any


def load_model(ref: str | Path, truncation: str = "auto", padding: str = "repeatpad",
               spec: Any = None, seed: int | None = None) -> ClapBundle:
    """Either kind from its reference: a fresh two-tower model (`two-tower:...`, built with
    `spec`, heads seeded by `seed`), an exported two-tower folder, or a transformers CLAP."""
    from robustclap.training import two_tower

    if str(ref).startswith(two_tower.REF_PREFIX):
        return two_tower.build_two_tower(spec or two_tower.TwoTowerSpec(), seed, str(ref))
    if two_tower.is_two_tower(ref):
        return two_tower.load_two_tower(ref)
    return load_clap(ref, truncation, padding)


def load_clap(ref: str | Path, truncation: str = "auto", padding: str = "repeatpad"
              ) -> ClapBundle:
    """Model (fp32), feature extractor and tokenizer from a hub id or a local folder."""
    from transformers import AutoTokenizer, ClapFeatureExtractor, ClapModel

    try:
        model = ClapModel.from_pretrained(str(ref), dtype=torch.float32)
        extractor = ClapFeatureExtractor.from_pretrained(str(ref))
        tokenizer = AutoTokenizer.from_pretrained(str(ref))
    except (OSError, ValueError) as exc:
        raise RobustclapError(f"cannot load CLAP model {ref!s}: {exc}") from exc
    if truncation == "auto":
        truncation = "fusion" if model.config.audio_config.enable_fusion else "rand_trunc"
    return ClapBundle(model, AudioFrontEnd(extractor, truncation, padding), tokenizer)


def tokenize(tokenizer: Any, texts: list[str], max_len: int, device: torch.device
             ) -> dict[str, torch.Tensor]:
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_len,
                    return_tensors="pt")
    return {"input_ids": enc["input_ids"].to(device),
            "attention_mask": enc["attention_mask"].to(device)}


class PackedTexts(NamedTuple):
    """Texts packed several to a row (see `pack_texts`); every tensor is (rows, length) but
    `first`, the flat index of each text's first token, in the order the texts were given."""

    input_ids: torch.Tensor
    segment: torch.Tensor  # which text a token belongs to; -1 on padding
    offset: torch.Tensor  # the token's position inside its own text
    first: torch.Tensor


def pack_texts(tokenizer: Any, texts: list[str], max_len: int, device: torch.device
               ) -> PackedTexts:
    """Tokenise and pack the texts into as few padded tokens as bin packing finds.

    The multi-view batch holds captions and their (longer) paraphrases; padding all of them
    to the longest wastes a quarter of the text tower's work on the bench batch, and
    sub-batches by length add a forward and backward each. Rows of concatenated texts go
    through the tower in one pass, each text attending to itself only (`DualEncoder`), so
    every text gets the features of a padded pass. Row capacities from the longest text to
    twice it are tried; the one with the fewest padded tokens wins.
    """
    ids = tokenizer(texts, truncation=True, max_length=max_len)["input_ids"]
    lengths = [len(x) for x in ids]
    longest = max(lengths)
    best = min((_bin_pack(lengths, longest * (4 + k) // 4) for k in range(5)),
               key=lambda rows: len(rows) * max(sum(lengths[i] for i in r) for r in rows))
    width = max(sum(lengths[i] for i in r) for r in best)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(best), width), pad, dtype=torch.long)
    segment = torch.full((len(best), width), -1, dtype=torch.long)
    offset = torch.zeros((len(best), width), dtype=torch.long)
    first = torch.empty(len(texts), dtype=torch.long)
    for r, row in enumerate(best):
        col = 0
        for i in row:
            n = lengths[i]
            input_ids[r, col:col + n] = torch.tensor(ids[i], dtype=torch.long)
            segment[r, col:col + n] = i
            offset[r, col:col + n] = torch.arange(n)
            first[i] = r * width + col
            col += n
    return PackedTexts(*(t.to(device) for t in (input_ids, segment, offset, first)))


def _bin_pack(lengths: list[int], capacity: int) -> list[list[int]]:
    """Best-fit decreasing: longest text first, into the fullest row it still fits."""
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, row), sorted
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        k = bisect.bisect_left(free, (lengths[i], -1))
        if k == len(free):
            rows.append([i])
            bisect.insort(free, (capacity - lengths[i], len(rows) - 1))
        else:
            room, r = free.pop(k)
            rows[r].append(i)
            bisect.insort(free, (room - lengths[i], r))
    return rows


def apply_freezing(model: ClapModel, freeze: FreezeConfig) -> None:
    """Turn gradients off for the parts the config freezes; logit_scale_t is always unused."""
    model.logit_scale_t.requires_grad_(False)
    model.logit_scale_a.requires_grad_(not freeze.logit_scale)
    if freeze.audio:
        model.audio_model.requires_grad_(False)
        model.audio_projection.requires_grad_(False)
    if freeze.text_embeddings:
        model.text_model.embeddings.requires_grad_(False)
    layers = model.text_model.encoder.layer
    if freeze.text_layers > len(layers):
        raise RobustclapError(
            f"freeze.text_layers={freeze.text_layers} but the text tower has {len(layers)} layers"
        )
    for layer in layers[: freeze.text_layers]:
        layer.requires_grad_(False)


def apply_lora(model: ClapModel, lora: LoraConfig, freeze: FreezeConfig) -> ClapModel:
    """Inject LoRA adapters (peft) into the chosen towers; only adapters (and, if asked, the
    projections and logit scale) train. Returns the same ClapModel with adapters inside."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    prefixes = {"text": r"text_model", "audio": r"audio_model"}
    towers = "|".join(prefixes[t] for t in lora.towers)
    modules = "|".join(lora.modules)
    target = rf".*({towers})\..*\.({modules})"
    cfg = PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                         target_modules=target)
    try:
        base = get_peft_model(model, cfg).get_base_model()
    except ValueError as exc:
        raise RobustclapError(f"LoRA found no module to adapt ({target}): {exc}") from exc
    if lora.train_projections:
        base.text_projection.requires_grad_(True)
        base.audio_projection.requires_grad_(not freeze.audio)
        base.logit_scale_a.requires_grad_(not freeze.logit_scale)
    return base


def has_lora(model: nn.Module) -> bool:
    return any("lora_" in name for name, _ in model.named_parameters())


class DualEncoder(nn.Module):
    """Both towers in one forward (what DDP wraps): audio once per clip, then all texts in
    one pass over the rows of `pack_texts`.

    Returns normalised audio features (U, D), text features (T, D) in the texts' own order
    and exp(logit_scale_a). A frozen audio tower stays in eval mode, so its BatchNorm
    statistics do not drift.
    """

    def __init__(self, clap: ClapModel, freeze_audio: bool = False) -> None:
        super().__init__()
        attn = clap.text_model.config._attn_implementation
        if attn not in ("eager", "sdpa"):  # packed rows need a 4D mask
            raise RobustclapError(f"text attention {attn!r}: training needs eager or sdpa")
        self.clap = clap
        self.freeze_audio = freeze_audio

    def train(self, mode: bool = True) -> DualEncoder:
        super().train(mode)
        if self.freeze_audio:
            self.clap.audio_model.eval()
            self.clap.audio_projection.eval()
        return self

    def forward(self, input_features: torch.Tensor, is_longer: torch.Tensor,
                input_ids: torch.Tensor, segment: torch.Tensor, offset: torch.Tensor,
                first: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        audio = self.clap.get_audio_features(input_features=input_features, is_longer=is_longer)
        return (audio.pooler_output, self.text_features(input_ids, segment, offset, first),
                self.clap.logit_scale_a.exp())

    def text_features(self, input_ids: torch.Tensor, segment: torch.Tensor,
                      offset: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """ClapModel.get_text_features for packed rows: each text attends to its own tokens
        and counts positions from its own start (RoBERTa's padding_idx + 1 + offset), then
        the pooler and projection take its first token. A two-tower model packs its own."""
        if hasattr(self.clap, "packed_text_features"):
            return self.clap.packed_text_features(input_ids, segment, offset, first)
        tower = self.clap.text_model
        pad = tower.embeddings.padding_idx
        position_ids = torch.where(segment >= 0, offset + pad + 1, pad)
        same = segment[:, None, :, None] == segment[:, None, None, :]
        mask = torch.zeros(same.shape, device=same.device).masked_fill_(
            ~same, torch.finfo(torch.float32).min)
        hidden = tower(input_ids=input_ids, attention_mask=mask,
                       position_ids=position_ids).last_hidden_state
        pooled = tower.pooler(hidden.flatten(0, 1)[first].unsqueeze(1))
        return F.normalize(self.clap.text_projection(pooled), dim=-1)


@torch.no_grad()
def clamp_logit_scale(model: ClapModel) -> None:
    model.logit_scale_a.clamp_(0, MAX_LOGIT_SCALE)


def export(bundle: ClapBundle, folder: str | Path) -> Path:
    """Write a plain transformers checkpoint (LoRA merged) with extractor and tokenizer, so
    `ClapModel.from_pretrained(folder)` and `robustclap evaluate --model folder` load it."""
    import copy

    folder = Path(folder)
    model = bundle.model
    if hasattr(model, "save") and not hasattr(model, "save_pretrained"):  # two-tower kind
        model.save(folder)
        bundle.tokenizer.save_pretrained(folder)
        return folder
    if has_lora(model):
        from peft.tuners.tuners_utils import BaseTunerLayer

        model = copy.deepcopy(model)
        for module in list(model.modules()):
            if isinstance(module, BaseTunerLayer):
                module.merge()
        model = _strip_lora(model)
    with torch.no_grad():
        model.logit_scale_t.copy_(model.logit_scale_a)
    model.save_pretrained(folder)
    bundle.frontend.extractor.save_pretrained(folder)
    bundle.tokenizer.save_pretrained(folder)
    return folder


def _strip_lora(model: nn.Module) -> nn.Module:
    """Replace every merged LoRA layer by its base layer (after merge() they compute the same)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, BaseTunerLayer) and name:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, module.get_base_layer())
    return model
