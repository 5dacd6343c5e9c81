"""Perceiver AR (`PerceiverForCausalLM`): its contracts as a transformers causal LM, checked against properties that
hold independently of the implementation (the library's own logits are compared in test_perceiver_ar_library.py).

- a key/value cache gives the logits of recomputing the window from scratch, over 200 new tokens, through the
  latents filling up, the prefix growing and the window sliding past max_seq_len;
- left padding changes nothing for the real tokens; the loss is the next-token cross-entropy at the latents;
- the Auto classes, save/load and pipeline("text-generation") find the model after `import perceiver_hf`.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer, pipeline

from perceiver_hf import PerceiverARConfig, PerceiverARModel, PerceiverByteTokenizer, PerceiverForCausalLM

TINY = dict(
    num_channels=32, num_heads=4, max_seq_len=24, max_latents=8, num_self_attention_layers=2,
    self_attention_widening_factor=2, cross_attention_widening_factor=3, output_norm=True,
)  # fmt: skip


def tiny_model(seed: int = 0, **overrides) -> PerceiverForCausalLM:
    """A tiny model with every parameter perturbed (no bias 0, no LayerNorm weight 1), in eval mode."""
    torch.manual_seed(seed)
    model = PerceiverForCausalLM(PerceiverARConfig(**{**TINY, **overrides}))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return model.eval()


def generate(model, input_ids, attention_mask=None, **kwargs):
    kwargs = {**dict(max_new_tokens=30, do_sample=False, pad_token_id=0, eos_token_id=None), **kwargs}
    return model.generate(
        input_ids, attention_mask=attention_mask, output_scores=True, return_dict_in_generate=True, **kwargs
    )


def test_parameter_count_is_the_library_layout():
    # by hand, the library's CausalLanguageModel: embeddings V*C + S*C; cross-attention: 2 norms (2*2C), q/k/v
    # without bias (3*C*C), output with bias (C*C + C), MLP norm 2C and two bias-free linears (2*3*C*C);
    # each self-attention layer: 2 norms (2*2C), four bias-free projections (4*C*C), two linears (2*2*C*C);
    # output norm 2C and output bias V (the output weight is the tied embedding)
    c, v, s = 32, 262, 24
    expected = v * c + s * c + (4 * c + 3 * c * c + c * c + c + 2 * c + 6 * c * c) + 2 * (4 * c + 4 * c * c + 4 * c * c) + 2 * c + v
    assert sum(p.numel() for p in tiny_model().parameters()) == expected == 36582


@pytest.mark.parametrize("num_latents", [1, 4])
def test_cached_generation_equals_uncached_over_200_tokens(num_latents):
    # a 10-token prompt + 200 tokens: the latents fill up (8), the prefix grows, then the 24-token window slides
    model = tiny_model()
    prompt = torch.randint(6, 262, (2, 10), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(prompt)
    prompt[1, :4], mask[1, :4] = 0, 0  # left padding
    cached = generate(model, prompt, mask, max_new_tokens=200, num_latents=num_latents, use_cache=True)
    uncached = generate(model, prompt, mask, max_new_tokens=200, num_latents=num_latents, use_cache=False)
    assert torch.equal(cached.sequences, uncached.sequences)
    assert len(cached.scores) == 200
    diff = max((a - b).abs().max().item() for a, b in zip(cached.scores, uncached.scores))
    assert diff < 1e-5


def test_each_step_is_a_forward_of_its_window():
    # the definition the cache is held to: step t's logits = forward(window of the last max_seq_len tokens,
    # prefix = all but the last min(max_latents, tokens since the prompt's prefix))
    model = tiny_model()
    prompt = torch.randint(6, 262, (1, 10), generator=torch.Generator().manual_seed(2))
    out = generate(model, prompt, max_new_tokens=25, use_cache=True)
    for step, scores in enumerate(out.scores):
        length = 10 + step
        start = max(0, length - 24)
        latents = min(8, length - 9)  # prompt prefix = 10 - num_latents(1) = 9
        window = out.sequences[:, start:length]
        logits = model(window, prefix_len=window.shape[1] - latents, use_cache=False).logits[:, -1]
        torch.testing.assert_close(scores, logits, atol=1e-5, rtol=0)


def test_incremental_forward_with_a_cache_equals_one_forward():
    model = tiny_model()
    ids = torch.randint(6, 262, (2, 14), generator=torch.Generator().manual_seed(3))
    full = model(ids, prefix_len=7, use_cache=False).logits  # [2, 7, V]
    first = model(ids[:, :9], prefix_len=7, use_cache=True)
    rest = model(ids[:, 9:], cache=first.cache, use_cache=True)
    torch.testing.assert_close(torch.cat([first.logits, rest.logits], dim=1), full, atol=1e-5, rtol=0)


def test_left_padding_changes_nothing_for_real_tokens():
    model = tiny_model()
    ids = torch.randint(6, 262, (1, 12), generator=torch.Generator().manual_seed(4))
    padded = torch.cat([torch.zeros(1, 5, dtype=torch.long), ids], dim=1)
    mask = torch.cat([torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 12, dtype=torch.long)], dim=1)
    alone = model(ids, prefix_len=6, use_cache=False).logits
    with_pads = model(padded, attention_mask=mask, prefix_len=11, use_cache=False).logits
    torch.testing.assert_close(with_pads, alone, atol=1e-5, rtol=0)
    # padding inside the latents: masked in the self-attention too (the real latents' logits stay the same)
    short, short_mask = padded[:, :11], mask[:, :11]  # 5 pads, then 6 real tokens
    with_pads_in_latents = model(short, attention_mask=short_mask, prefix_len=3, use_cache=False).logits  # [1, 8, V]
    alone_all_latents = model(ids[:, :6], prefix_len=0, use_cache=False).logits  # [1, 6, V]
    torch.testing.assert_close(with_pads_in_latents[:, 2:], alone_all_latents, atol=1e-5, rtol=0)


def test_loss_is_next_token_cross_entropy_at_the_latents():
    model = tiny_model()
    ids = torch.randint(6, 262, (2, 20), generator=torch.Generator().manual_seed(5))
    labels = ids.clone()
    labels[0, 15] = -100
    out = model(ids, labels=labels, use_cache=False)
    assert out.logits.shape == (2, 8, 262)  # 20 - max_latents = 12 prefix positions
    # latent i (position 12 + i) predicts position 13 + i; the last latent has no target
    targets = labels[:, 13:]
    expected = F.cross_entropy(out.logits[:, :-1].reshape(-1, 262), targets.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(out.loss, expected)


def test_auto_classes_save_load_and_text_generation_pipeline(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path)
    PerceiverByteTokenizer(model_max_length=24).save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)) is PerceiverARConfig
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert type(loaded) is PerceiverForCausalLM
    assert type(AutoModel.from_pretrained(tmp_path)) is PerceiverARModel
    assert isinstance(AutoTokenizer.from_pretrained(tmp_path), PerceiverByteTokenizer)
    ids = torch.randint(6, 262, (1, 16))
    torch.testing.assert_close(loaded(ids).logits, model(ids).logits, atol=0, rtol=0)
    assert loaded.lm_head.weight.data_ptr() == loaded.model.perceiver.token_embedding.weight.data_ptr()

    generator = pipeline("text-generation", model=str(tmp_path))
    text = generator("Hello", max_new_tokens=6, do_sample=False)[0]["generated_text"]
    tokenizer = PerceiverByteTokenizer()
    expected = model.generate(**tokenizer("Hello", return_tensors="pt"), max_new_tokens=6, do_sample=False)
    assert text == tokenizer.decode(expected[0], skip_special_tokens=True)
    with pytest.raises(Exception, match="perceiver_ar supports causal language modelling"):
        AutoModelForMaskedLM.from_pretrained(tmp_path)


def test_beam_search_sampling_and_stop_strings_run_with_the_cache():
    model = tiny_model()
    tokenizer = PerceiverByteTokenizer()
    batch = tokenizer(["Hi", "A longer prompt"], return_tensors="pt", padding=True, padding_side="left")
    beams = [generate(model, **batch, num_beams=3, max_new_tokens=20, use_cache=use).sequences for use in (True, False)]
    assert torch.equal(beams[0], beams[1])
    samples = []
    for use in (True, False):
        torch.manual_seed(0)
        samples.append(generate(model, **batch, do_sample=True, max_new_tokens=20, use_cache=use).sequences)
    assert torch.equal(samples[0], samples[1])
    # stop strings end the generation at the first occurrence of the string
    free = generate(model, **tokenizer(["Hi"], return_tensors="pt"), max_new_tokens=40).sequences[0, 2:]
    text = tokenizer.decode(free)
    stop = next(ch for ch in text[3:] if ch.isascii() and ch.isprintable())
    stopped = generate(model, **tokenizer(["Hi"], return_tensors="pt"), max_new_tokens=40, stop_strings=[stop],
                       tokenizer=tokenizer).sequences[0, 2:]  # fmt: skip
    assert tokenizer.decode(stopped) == text[: text.index(stop) + 1]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.generate(torch.ones(1, 25, dtype=torch.long)), r"prompt has 25 tokens.*max_seq_len=24"),
        (lambda m: m.generate(torch.ones(1, 5, dtype=torch.long), num_latents=9), r"num_latents=9 must be .* 1 to max_latents=8"),
        (lambda m: m.generate(torch.ones(1, 24, dtype=torch.long), num_latents=2), r"num_latents must be from 8 to 8"),
        (lambda m: m(torch.ones(1, 25, dtype=torch.long)), r"25 tokens .* at most max_seq_len=24"),
        (lambda m: m(torch.ones(1, 20, dtype=torch.long), prefix_len=20), r"prefix_len \(20\) must be in \[0, 20\)"),
        (lambda m: m(torch.ones(1, 20, dtype=torch.long), prefix_len=2), r"18 latent positions, more than max_latents=8"),
        (lambda m: m(torch.ones(1, 5, dtype=torch.long), attention_mask=torch.ones(1, 4)), r"attention_mask must be"),
        (lambda m: m(torch.ones(5, dtype=torch.long)), r"input_ids must be \[batch, length\]"),
    ],
)
def test_bad_inputs_are_one_line_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(tiny_model())


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(max_latents=30), r"max_latents must be at most max_seq_len"),
        (dict(num_channels=30), r"num_channels must be a multiple of num_heads"),
        (dict(num_channels=24, num_heads=4), r"num_channels .* rotated channels"),
        (dict(num_self_attention_rotary_layers=3), r"num_self_attention_rotary_layers must be -1 or at most"),
        (dict(num_self_attention_rotary_layers=-2), r"num_self_attention_rotary_layers must be -1 \(every layer\)"),
    ],
)
def test_bad_configs_are_one_line_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        PerceiverARConfig(**{**TINY, **overrides})


def test_trainer_takes_the_mean_loss_of_run_clm_style_labels(tmp_path):
    # run_clm's collator labels every position, but only the tokens after the latents are scored: Trainer's
    # num_items_in_batch (a count of every label) must not divide the loss
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    model = tiny_model()  # eval mode: no prefix dropout, so two forward passes agree
    collator = DataCollatorForLanguageModeling(PerceiverByteTokenizer(), mlm=False)
    batch = collator([{"input_ids": list(range(10, 30))}, {"input_ids": list(range(40, 60))}])
    args = TrainingArguments(str(tmp_path), report_to=[], use_cpu=True)
    trainer = Trainer(model=model, args=args)
    loss = trainer.compute_loss(model, batch, num_items_in_batch=torch.tensor(2 * 19))
    torch.testing.assert_close(loss, model(**batch).loss)
