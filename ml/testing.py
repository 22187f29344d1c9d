"""A tiny Llama and its tokenizer, built in milliseconds for tests: same code paths as the real base model, no download.

The tokenizer is a byte-level BPE trained here on retail-media phrases, so every character (JSON punctuation, "$",
"≥") encodes and decodes losslessly, and the chat template is ChatML like SmolLM2's.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CORPUS = [
    "Allocate $2.5M to maximize incremental margin with ROAS >= 3",
    'Spend at most $400k on Walmart Connect; {"objective": "incremental_margin", "min_roas": 3.0}',
    '{"retailer": "amazon", "field": "spend", "column": "Total Cost (USD)"}',
    "Map the column Attributed Sales 14d to attributed_sales and Impressions to impressions.",
    "Sponsored products on Instacart, onsite display on Target Roundel, offsite video on Kroger Precision Marketing.",
    "Write compliant copy for Acme Foods crunchy granola: no health claims, no competitor names.",
    "Design a geo holdout test: 20% of stores as control for 4 weeks, minimum detectable lift 5%.",
    '[{"sku": "acme-sku-1", "budget": 1250.00, "bid": 0.85}, {"sku": "acme-sku-2", "budget": 750.50}]',
    "Clicks, impressions, CTR, CPC, iROAS and new-to-brand sales by campaign, week and placement.",
]


def build_tiny_llama(dest: Path, *, vocab_size: int = 512, seed: int = 0) -> Path:
    """Save a tiny LlamaForCausalLM (hidden 64, 2 layers, 4 heads) and its tokenizer into ``dest``; return ``dest``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)
    return dest


def make_adapter(base_dir: Path, dest: Path, *, seed: int, r: int = 4) -> Path:
    """Save a random LoRA adapter (all linear layers, lora_alpha = 2r, lora_B not zero) for the model in base_dir."""
    import torch
    from peft import LoraConfig, get_peft_model

    from ml.engine.base import load_base

    model, _ = load_base(base_dir)
    torch.manual_seed(seed)
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(dest)
    return Path(dest)
