"""The CLAP model: loading, freezing, LoRA, the two-tower forward used in training, export.

Any transformers ClapModel works: a hub id (laion/clap-htsat-unfused) or a local folder that
also holds the feature extractor and tokenizer (what `export` writes, and `robustclap tiny-clap`).

Logit scale: transformers' ClapModel has two (logit_scale_a and logit_scale_t). LAION trained
CLAP with one, logit_scale_a, for both directions; so does this package. logit_scale_t is frozen
and, on export, set equal to logit_scale_a so transformers' own forward scores consistently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from pipeline.errors import RobustclapError
from training.audio import AudioFrontEnd

if TYPE_CHECKING:
    from transformers import ClapModel

    from training.config import FreezeConfig, LoraConfig

MAX_LOGIT_SCALE = math.log(100.0)  # LAION clamps the learnt temperature at 100


@dataclass
class ClapBundle:
    model: ClapModel
    frontend: AudioFrontEnd
    tokenizer: Any


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
    """Both towers in one forward (what DDP wraps): audio once per clip, all texts at once.

    Returns normalised audio features (U, D), text features (T, D) and exp(logit_scale_a).
    A frozen audio tower stays in eval mode, so its BatchNorm statistics do not drift.
    """

    def __init__(self, clap: ClapModel, freeze_audio: bool = False) -> None:
        super().__init__()
        self.clap = clap
        self.freeze_audio = freeze_audio

    def train(self, mode: bool = True) -> DualEncoder:
        super().train(mode)
        if self.freeze_audio:
            self.clap.audio_model.eval()
            self.clap.audio_projection.eval()
        return self

    def forward(self, input_features: torch.Tensor, is_longer: torch.Tensor,
                input_ids: torch.Tensor, attention_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        audio = self.clap.get_audio_features(input_features=input_features, is_longer=is_longer)
        text = self.clap.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
        return audio.pooler_output, text.pooler_output, self.clap.logit_scale_a.exp()


@torch.no_grad()
def clamp_logit_scale(model: ClapModel) -> None:
    model.logit_scale_a.clamp_(0, MAX_LOGIT_SCALE)


def export(bundle: ClapBundle, folder: str | Path) -> Path:
    """Write a plain transformers checkpoint (LoRA merged) with extractor and tokenizer, so
    `ClapModel.from_pretrained(folder)` and `robustclap evaluate --model folder` load it."""
    import copy

    folder = Path(folder)
    model = bundle.model
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
