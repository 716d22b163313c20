"""Build a tiny, randomly initialised chat LLM (Llama + byte-level BPE tokenizer) on disk.

No model hub is reachable on offline machines, yet the real engines (vLLM in-process and
`vllm serve`) must be exercised end to end. This model is loaded exactly like a downloaded one.
It writes gibberish, which is the point: the parse / retry / failure paths run for real.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL_TOKENS = ["<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]


def _training_text() -> list[str]:
    """Tokenizer training text: the prompt templates and the shipped sample captions."""
    texts = [
        (resources.files("robustclap.prompts") / name).read_text(encoding="utf-8")
        for name in ("level1.yaml", "level2.yaml")
    ]
    texts += [
        "A dog barks while a man speaks.", "Birds chirp and a car passes by.",
        "Rain falls on a roof, then thunder rumbles.", '{"paraphrase": "a"}',
    ]
    return texts


def build_tiny_llama(
    out_dir: str | Path,
    vocab_size: int = 512,
    hidden_size: int = 128,
    layers: int = 2,
    heads: int = 2,
    max_positions: int = 4096,
    seed: int = 0,
) -> Path:
    """Write config, safetensors weights, tokenizer and chat template to `out_dir`.

    head_dim = hidden_size / heads must be 64 or more: vLLM's CPU attention rejects 16.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(_training_text(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="<|end|>", pad_token="<pad>",
        unk_token=None, chat_template=CHAT_TEMPLATE, model_max_length=max_positions,
    )
    fast.save_pretrained(out)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=hidden_size,
        intermediate_size=hidden_size * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=max_positions, bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True, torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.save_pretrained(out, safe_serialization=True)
    return out
