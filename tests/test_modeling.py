"""PerceiverForMaskedLM / PerceiverModel behaviour and Hugging Face contracts, on the haiku-tiny config.

References are independent of the code under test: the same text without padding, the full decode,
cross entropy computed by hand in float64, DeepMind's parameter spec and the published parameter counts,
the bytes of the saved safetensors file, the fp32 model (for bf16), and direct calls of the shared layers.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Callable

import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM
from transformers import PerceiverConfig as TransformersPerceiverConfig
from transformers.modeling_layers import GradientCheckpointingLayer

from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM, PerceiverModel
from perceiver_hf.core import attention as core_attention

LANGUAGE_PERCEIVER_PARAMETERS = 201_108_230  # DeepMind's checkpoint (tests/fixtures/language-perceiver-param-spec.json)
PERCEIVER_IO_BASE_PARAMETERS = 223_155_456  # perceiver-io docs (the seed page 000_c0dba52e3109ea4d.txt)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def _padded_batch(texts: list[torch.Tensor], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad 1-D id tensors with PAD=0 to `length`: (input_ids [B, length], attention_mask [B, length])."""
    input_ids = torch.zeros(len(texts), length, dtype=torch.long)
    attention_mask = torch.zeros(len(texts), length, dtype=torch.long)
    for row, text in enumerate(texts):
        input_ids[row, : len(text)] = text
        attention_mask[row, : len(text)] = 1
    return input_ids, attention_mask


def _hand_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, int]:
    """Sum over labelled positions of logsumexp(logits) - logits[label], in float64; and the label count."""
    total, count = 0.0, 0
    for row, position in (labels != -100).nonzero().tolist():
        scores = logits[row, position].double()
        total += (scores.exp().sum().log() - scores[labels[row, position]]).item()
        count += 1
    return total, count


@pytest.fixture
def saved(tmp_path: Path) -> Callable[[nn.Module], Path]:
    """Factory: save a model with save_pretrained into a fresh folder and return the folder."""
    counter = iter(range(1000))

    def save(model: PerceiverForMaskedLM) -> Path:
        folder = tmp_path / f"model-{next(counter)}"
        model.save_pretrained(folder)
        return folder

    return save


# --- padding and decoding chosen positions --------------------------------------------------------------------


@pytest.mark.parametrize("output_attentions", [False, True], ids=["sdpa", "eager"])
def test_padding_invariance(tiny_model, random_ids, output_attentions: bool) -> None:
    model = tiny_model()
    text, other = random_ids(1, 23, seed=1)[0], random_ids(1, 40, seed=2)[0]
    input_ids, attention_mask = _padded_batch([text, other], 40)
    with torch.no_grad():
        alone = model(text[None], output_attentions=output_attentions).logits[0]  # [23, V]
        alone_masked = model(text[None], attention_mask=torch.ones(1, 23)).logits[0]
        batched = model(input_ids, attention_mask=attention_mask, output_attentions=output_attentions).logits
        unmasked = model(input_ids).logits  # padding visible to the encoder: must change the logits
    assert _max_diff(batched[0, :23], alone) <= 1e-5
    assert _max_diff(alone_masked, alone) <= 1e-5
    assert _max_diff(batched[1], model(other[None]).logits[0].detach()) <= 1e-5
    assert _max_diff(unmasked[0, :23], alone) > 1e-2  # the test can fail: padding does matter without the mask


def test_decode_only_chosen_positions(tiny_model, random_ids) -> None:
    model = tiny_model()
    input_ids, attention_mask = _padded_batch([random_ids(1, 30, seed=3)[0], random_ids(1, 12, seed=4)[0]], 30)
    positions = torch.tensor([[3, 0, 29, 17, -1, 8], [5, -1, 11, 20, -1, -1]])  # 20 is a padded position of row 1
    with torch.no_grad():
        full = model(input_ids, attention_mask=attention_mask).logits  # [2, 30, V]
        part = model(input_ids, attention_mask=attention_mask, output_positions=positions).logits  # [2, 6, V]
        part_eager = model(
            input_ids, attention_mask=attention_mask, output_positions=positions, output_attentions=True
        ).logits
        no_mask_full = model(input_ids[:1]).logits
        no_mask_part = model(input_ids[:1], output_positions=positions[:1]).logits
    assert part.shape == (2, 6, 262)
    assert torch.isfinite(part).all()
    for row, slot in (positions >= 0).nonzero().tolist():
        position = positions[row, slot]
        assert _max_diff(part[row, slot], full[row, position]) <= 1e-5, (row, slot)
        assert _max_diff(part_eager[row, slot], full[row, position]) <= 1e-5, (row, slot)
    for slot in (positions[0] >= 0).nonzero().flatten().tolist():
        assert _max_diff(no_mask_part[0, slot], no_mask_full[0, positions[0, slot]]) <= 1e-5
    # different positions decode to different logits (the check above is not trivially satisfied)
    assert _max_diff(full[0, 3], full[0, 0]) > 1e-2


# --- loss -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seq_len", [1, 37, 128])
def test_loss_at_any_length_ignores_minus_100(tiny_model, random_ids, seq_len: int) -> None:
    model = tiny_model()
    input_ids = random_ids(2, seq_len, seed=5)
    labels = random_ids(2, seq_len, seed=6)
    labels[torch.rand(2, seq_len, generator=torch.Generator().manual_seed(7)) < 0.5] = -100
    labels[0, 0] = 42  # at least one labelled position
    with torch.no_grad():
        output = model(input_ids, labels=labels)
    total, count = _hand_cross_entropy(output.logits, labels)
    assert output.loss.item() == pytest.approx(total / count, rel=1e-5)


def test_labels_per_output_position(tiny_model, random_ids) -> None:
    model = tiny_model()
    input_ids = random_ids(2, 25, seed=8)
    positions = torch.tensor([[4, 9, 24, -1], [0, 13, -1, -1]])
    labels_k = torch.tensor([[10, 11, -100, 77], [12, 13, 99, 98]])  # labels at -1 slots must be ignored
    labels_l = torch.full((2, 25), -100)
    labels_l[0, 4], labels_l[0, 9], labels_l[1, 0], labels_l[1, 13] = 10, 11, 12, 13
    with torch.no_grad():
        out_k = model(input_ids, output_positions=positions, labels=labels_k)
        out_l = model(input_ids, output_positions=positions, labels=labels_l)
        full = model(input_ids).logits
    total, count = _hand_cross_entropy(full, labels_l)
    assert count == 4
    assert out_k.loss.item() == pytest.approx(total / count, rel=1e-5)
    assert out_l.loss.item() == pytest.approx(total / count, rel=1e-5)


def test_labels_per_output_position_when_k_equals_l(tiny_model, random_ids) -> None:
    """A collator that pads K up to L (e.g. pad_to_multiple_of) sends labels [B, K] with K == L: not per token."""
    model = tiny_model()
    input_ids = random_ids(2, 8, seed=21)
    positions = torch.tensor([[3, -1, -1, -1, -1, -1, -1, -1], [5, 6, -1, -1, -1, -1, -1, -1]])
    labels_k = torch.full((2, 8), -100)
    labels_k[0, 0], labels_k[1, 0], labels_k[1, 1] = 50, 60, 61
    labels_l = torch.full((2, 8), -100)
    labels_l[0, 3], labels_l[1, 5], labels_l[1, 6] = 50, 60, 61
    with torch.no_grad():
        loss = model(input_ids, output_positions=positions, labels=labels_k).loss
        full = model(input_ids).logits
    total, count = _hand_cross_entropy(full, labels_l)
    assert loss.item() == pytest.approx(total / count, rel=1e-5)


def test_num_items_in_batch_sums_and_divides(tiny_model, random_ids) -> None:
    model = tiny_model()
    input_ids = random_ids(2, 20, seed=9)
    labels = input_ids.clone()
    labels[:, ::3] = -100
    with torch.no_grad():
        output = model(input_ids, labels=labels)
        total, count = _hand_cross_entropy(output.logits, labels)
        # e.g. gradient accumulation over 3 micro-batches with 5 * count labelled tokens in all
        as_int = model(input_ids, labels=labels, num_items_in_batch=5 * count).loss
        as_tensor = model(input_ids, labels=labels, num_items_in_batch=torch.tensor(5 * count)).loss
        as_count = model(input_ids, labels=labels, num_items_in_batch=count).loss
    assert as_int.item() == pytest.approx(total / (5 * count), rel=1e-5)
    assert as_tensor.item() == pytest.approx(total / (5 * count), rel=1e-5)
    assert as_count.item() == pytest.approx(output.loss.item(), rel=1e-5)


def test_batch_without_labelled_tokens_gives_zero_loss_not_nan(tiny_model, random_ids) -> None:
    # Short texts at 15% masking can produce a batch with no masked token; NaN would poison training.
    model = tiny_model()
    input_ids = random_ids(2, 12, seed=10)
    labels = torch.full_like(input_ids, -100)
    for num_items in (None, 0, torch.tensor(0)):
        loss = model(input_ids, labels=labels, num_items_in_batch=num_items).loss
        loss.backward()
        assert loss.item() == 0.0
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    empty = model(input_ids, output_positions=torch.empty(2, 0, dtype=torch.long), labels=labels).loss
    assert empty.item() == 0.0


# --- parameter counts -------------------------------------------------------------------------------------------


def _unique_parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # parameters() counts a tied matrix once


def test_language_perceiver_matches_deepmind_parameter_spec(haiku_tiny_dir: Path) -> None:
    spec = json.loads((haiku_tiny_dir.parent / "language-perceiver-param-spec.json").read_text())
    with torch.device("meta"):
        model = PerceiverForMaskedLM(PerceiverConfig.language_perceiver())
    assert spec["total_parameters"] == LANGUAGE_PERCEIVER_PARAMETERS
    assert _unique_parameter_count(model) == LANGUAGE_PERCEIVER_PARAMETERS
    # the same arrays, not just the same total: Haiku's w is [in, out], a torch Linear weight [out, in]
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}  # lm_head's tied weight
    linear_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)} - embeddings
    ours = Counter(tuple(p.shape)[::-1] if id(p) in linear_weights else tuple(p.shape) for p in model.parameters())
    theirs = Counter(tuple(p["shape"]) for p in spec["parameters"])
    assert ours == theirs


def test_preset_parameter_counts_on_meta_device() -> None:
    with torch.device("meta"):
        language = PerceiverForMaskedLM(PerceiverConfig.language_perceiver())
        base = PerceiverForMaskedLM(PerceiverConfig.perceiver_io_base())
        base_encoder_decoder = PerceiverModel(PerceiverConfig.perceiver_io_base())
    assert next(base.parameters()).device.type == "meta"
    assert _unique_parameter_count(language) == LANGUAGE_PERCEIVER_PARAMETERS
    assert _unique_parameter_count(base) == PERCEIVER_IO_BASE_PARAMETERS
    assert (base.config.vocab_size, base.config.max_seq_len) == (32000, 512)
    # the masked-LM head adds only its bias: the output matrix is the input embedding
    assert _unique_parameter_count(base_encoder_decoder) == PERCEIVER_IO_BASE_PARAMETERS - 32000


def test_unset_channel_widths_follow_the_documented_defaults() -> None:
    """None q/k widths: C for both cross-attentions (DeepMind's kv width for the encoder), D for self-attention;
    None v widths: the q/k width. The config validates exactly these widths, so what it accepts builds."""
    unset = {
        name: None
        for name in (
            "num_cross_attention_qk_channels", "num_cross_attention_v_channels", "num_self_attention_qk_channels",
            "num_self_attention_v_channels", "decoder_num_cross_attention_qk_channels",
            "decoder_num_cross_attention_v_channels",
        )
    }
    sizes = dict(max_seq_len=16, num_input_channels=16, num_latents=4, num_latent_channels=18)
    heads = dict(num_cross_attention_heads=4, num_self_attention_heads=2, decoder_num_cross_attention_heads=4)
    model = PerceiverForMaskedLM(PerceiverConfig(**sizes, **heads, **unset, num_self_attention_layers_per_block=1))
    encoder, decoder = model.perceiver.encoder, model.perceiver.decoder
    widths = {
        "encoder": encoder.cross_attention.attention,
        "self": encoder.self_attention.layers[0].attention,
        "decoder": decoder.cross_attention.attention,
    }
    qk_v = {name: (a.q_proj.out_features, a.v_proj.out_features) for name, a in widths.items()}
    assert qk_v == {"encoder": (16, 16), "self": (18, 18), "decoder": (16, 16)}
    with pytest.raises(ValueError, match=r"num_cross_attention_qk_channels \(18\)"):
        PerceiverConfig(**{**sizes, "num_input_channels": 18}, **heads, **unset)  # C=18 with 4 heads


# --- save / load ------------------------------------------------------------------------------------------------


def _assert_state_dicts_equal(a: nn.Module, b: nn.Module) -> None:
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert state_a[key].dtype == state_b[key].dtype, key
        assert torch.equal(state_a[key], state_b[key]), key


def test_save_load_round_trip_is_bit_exact_and_keeps_tying(tiny_model, random_ids, saved) -> None:
    model = tiny_model()
    folder = saved(model)
    stored = load_file(folder / "model.safetensors")
    state = model.state_dict()
    assert "lm_head.weight" not in stored  # tied: stored once, as the embedding
    assert set(stored) == set(state) - {"lm_head.weight"}
    for key, tensor in stored.items():
        assert torch.equal(tensor, state[key]), key

    loaded = PerceiverForMaskedLM.from_pretrained(folder)
    _assert_state_dicts_equal(model, loaded)
    embedding = loaded.perceiver.encoder.input_adapter.text_embedding.weight
    assert loaded.lm_head.weight is embedding
    assert loaded.lm_head.weight.data_ptr() == embedding.data_ptr()
    assert loaded.config.to_diff_dict() == model.config.to_diff_dict()
    input_ids = random_ids(2, 17, seed=10)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(input_ids).logits, model(input_ids).logits)


def test_untied_model_round_trips(tiny_model, saved) -> None:
    model = tiny_model(tie_word_embeddings=False)
    embedding = model.perceiver.encoder.input_adapter.text_embedding.weight
    assert model.lm_head.weight is not embedding
    assert not torch.equal(model.lm_head.weight, embedding)
    folder = saved(model)
    assert "lm_head.weight" in load_file(folder / "model.safetensors")

    loaded = PerceiverForMaskedLM.from_pretrained(folder)
    assert loaded.config.tie_word_embeddings is False
    assert loaded.lm_head.weight.data_ptr() != loaded.perceiver.encoder.input_adapter.text_embedding.weight.data_ptr()
    _assert_state_dicts_equal(model, loaded)


def test_bfloat16_loading_runs_close_to_float32(tiny_model, random_ids, saved) -> None:
    model = tiny_model()
    loaded = PerceiverForMaskedLM.from_pretrained(saved(model), dtype=torch.bfloat16)
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    input_ids, attention_mask = _padded_batch([random_ids(1, 30, seed=11)[0], random_ids(1, 19, seed=12)[0]], 30)
    valid = attention_mask.bool()
    with torch.no_grad():
        reference = model(input_ids, attention_mask=attention_mask).logits
        for output_attentions in (False, True):
            output = loaded(input_ids, attention_mask=attention_mask, labels=input_ids, output_attentions=output_attentions)
            assert output.logits.dtype == torch.bfloat16
            assert torch.isfinite(output.logits).all() and torch.isfinite(output.loss)
            # bf16 keeps ~3 significant digits: within 3% of the logit range, and the same argmax almost everywhere
            assert _max_diff(output.logits[valid], reference[valid]) <= 0.03 * reference[valid].abs().max().item()
            agreement = (output.logits.argmax(-1) == reference.argmax(-1))[valid].float().mean().item()
            assert agreement >= 0.9


# --- Auto classes -----------------------------------------------------------------------------------------------


def test_auto_classes_resolve(tiny_config, tiny_model, saved) -> None:
    assert isinstance(AutoConfig.for_model("perceiver_io"), PerceiverConfig)
    assert isinstance(AutoConfig.for_model("perceiver"), TransformersPerceiverConfig)  # transformers' own untouched
    assert type(AutoModel.from_config(tiny_config())) is PerceiverModel
    assert type(AutoModelForMaskedLM.from_config(tiny_config())) is PerceiverForMaskedLM

    model = tiny_model()
    folder = saved(model)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "perceiver_io"
    assert isinstance(AutoConfig.from_pretrained(folder), PerceiverConfig)
    masked_lm = AutoModelForMaskedLM.from_pretrained(folder)
    assert type(masked_lm) is PerceiverForMaskedLM
    _assert_state_dicts_equal(model, masked_lm)
    base = AutoModel.from_pretrained(folder)  # the encoder-decoder without the head, weights under "perceiver."
    assert type(base) is PerceiverModel
    assert torch.equal(base.encoder.latent, model.perceiver.encoder.latent)


# --- attentions, hidden states, weight sharing ------------------------------------------------------------------


def test_attentions_and_hidden_states_with_shared_blocks(tiny_model, random_ids) -> None:
    model = tiny_model(num_self_attention_blocks=2)  # 2 layers applied twice
    input_ids, attention_mask = _padded_batch([random_ids(1, 30, seed=13)[0], random_ids(1, 21, seed=14)[0]], 30)
    with torch.no_grad():
        output = model(input_ids, attention_mask=attention_mask, output_attentions=True, output_hidden_states=True)
    batch, heads, latents, channels = 2, 4, 16, 96
    assert len(output.hidden_states) == 1 + 2 * 2  # after the cross-attention, then after each applied layer
    assert all(h.shape == (batch, latents, channels) for h in output.hidden_states)
    assert len(output.attentions) == 2 * 2
    assert all(a.shape == (batch, heads, latents, latents) for a in output.attentions)
    encoder_cross, decoder_cross = output.cross_attentions
    assert encoder_cross.shape == (batch, heads, latents, 30)
    assert decoder_cross.shape == (batch, heads, 30, latents)
    for probabilities in (*output.attentions, encoder_cross, decoder_cross):
        torch.testing.assert_close(probabilities.sum(-1), torch.ones(probabilities.shape[:-1]))
    assert encoder_cross[1, :, :, 21:].abs().max() == 0  # padded keys get probability exactly 0

    # the hidden states really come from applying the same two layers twice
    layers = model.perceiver.encoder.self_attention.layers
    with torch.no_grad():
        for step in range(4):
            expected, _ = layers[step % 2](output.hidden_states[step])
            assert _max_diff(output.hidden_states[step + 1], expected) <= 1e-5

    positions = torch.tensor([[0, 5, -1], [2, 3, 4]])
    with torch.no_grad():
        decoded = model(input_ids, output_positions=positions, output_attentions=True)
    assert decoded.cross_attentions[1].shape == (batch, heads, 3, latents)


def test_shared_blocks_add_no_parameters_but_change_the_output(tiny_model, random_ids) -> None:
    once, twice = tiny_model(), tiny_model(num_self_attention_blocks=2)
    assert _unique_parameter_count(once) == _unique_parameter_count(twice)
    twice.load_state_dict(once.state_dict())  # identical key set: blocks share weights
    input_ids = random_ids(1, 20, seed=15)
    with torch.no_grad():
        assert _max_diff(once(input_ids).logits, twice(input_ids).logits) > 1e-2


def test_tuple_outputs() -> None:
    model = PerceiverForMaskedLM(PerceiverConfig(**_small())).eval()
    input_ids = torch.randint(6, 262, (2, 9))
    with torch.no_grad():
        logits_only = model(input_ids, return_dict=False)
        with_loss = model(input_ids, labels=input_ids, return_dict=False)
    assert len(logits_only) == 1 and logits_only[0].shape == (2, 9, 262)
    assert len(with_loss) == 2 and with_loss[0].dim() == 0


def _small() -> dict:
    """An even smaller config for tests that only check plumbing."""
    return dict(
        max_seq_len=16, num_input_channels=8, num_latents=4, num_latent_channels=8, num_cross_attention_heads=2,
        num_cross_attention_qk_channels=8, num_cross_attention_v_channels=8, num_self_attention_heads=2,
        num_self_attention_qk_channels=8, num_self_attention_v_channels=8, num_self_attention_layers_per_block=1,
        decoder_num_cross_attention_heads=2, decoder_num_cross_attention_qk_channels=8,
        decoder_num_cross_attention_v_channels=8,
    )


# --- training: gradient checkpointing, dropout ------------------------------------------------------------------


def _gradients(model: PerceiverForMaskedLM, input_ids, attention_mask, labels) -> dict[str, torch.Tensor]:
    model.zero_grad()
    model(input_ids, attention_mask=attention_mask, labels=labels).loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def _count_calls(modules: list[nn.Module]) -> tuple[list[int], list]:
    """Count forward calls with pre-hooks (non-reentrant checkpointing stops a recompute before post-hooks).

    Returns the one-element counter and the hook handles.
    """
    calls = [0]
    handles = [m.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1)) for m in modules]
    return calls, handles


@pytest.mark.parametrize(
    ("enable", "kwargs"),
    [
        ("gradient_checkpointing_enable", {}),
        ("gradient_checkpointing_enable", {"gradient_checkpointing_kwargs": {"use_reentrant": True}}),
        ("activation_checkpointing_enable", {}),
    ],
)
def test_gradient_checkpointing_same_gradients_and_recomputes(tiny_model, random_ids, enable, kwargs) -> None:
    model = tiny_model(num_self_attention_blocks=2).train()
    input_ids, attention_mask = _padded_batch([random_ids(1, 24, seed=16)[0], random_ids(1, 15, seed=17)[0]], 24)
    labels = input_ids.masked_fill(torch.rand(2, 24, generator=torch.Generator().manual_seed(18)) < 0.5, -100)
    encoder = model.perceiver.encoder
    layers = [encoder.cross_attention, *encoder.self_attention.layers, model.perceiver.decoder.cross_attention]
    # the attention inside each layer: GradientCheckpointingLayer recomputes `forward`, not `__call__` (whose hooks
    # stay outside the checkpoint), so the layer's own hooks do not see the recompute; its sub-modules' hooks do
    calls, handles = _count_calls([layer.attention for layer in layers])

    plain = _gradients(model, input_ids, attention_mask, labels)
    plain_calls = calls[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # transformers 5.2x renamed it activation_checkpointing_*
        getattr(model, enable)(**kwargs)
    assert all(layer.gradient_checkpointing for layer in layers)
    assert all(isinstance(layer, GradientCheckpointingLayer) for layer in layers)
    calls[0] = 0
    checkpointed = _gradients(model, input_ids, attention_mask, labels)
    for handle in handles:
        handle.remove()

    assert plain_calls == 1 + 2 * 2 + 1
    assert calls[0] == 2 * plain_calls  # every layer ran again during backward
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        assert _max_diff(plain[name], checkpointed[name]) <= 1e-6, name
    assert all(g.abs().max() > 0 for g in plain.values())  # every parameter is trained


def test_dropout_is_active_in_training_only(tiny_model, random_ids) -> None:
    model = tiny_model(dropout=0.1)
    input_ids = random_ids(2, 20, seed=19)
    with torch.no_grad():
        eval_a, eval_b = model.eval()(input_ids).logits, model(input_ids).logits
        train_a, train_b = model.train()(input_ids).logits, model(input_ids).logits
    assert torch.equal(eval_a, eval_b)
    assert _max_diff(train_a, train_b) > 1e-3
    assert _max_diff(train_a, eval_a) > 1e-3
    # and eval with dropout configured equals the same weights without dropout
    no_dropout = tiny_model(dropout=0.0)
    no_dropout.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(no_dropout(input_ids).logits, eval_a)


def test_a_few_steps_with_dropout_reduce_the_loss(tiny_config, random_ids) -> None:
    torch.manual_seed(0)
    model = PerceiverForMaskedLM(tiny_config(dropout=0.1)).train()
    input_ids = random_ids(4, 32, seed=20)
    labels = input_ids.clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = model(input_ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


# --- attention implementation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("equal_head_widths", [True, False], ids=["equal-widths", "mixed-widths"])
def test_attn_implementations_agree(tiny_model, random_ids, saved, equal_head_widths):
    # "sdpa" (transformers' default) is SDPA or (CPU, mixed q/k and v head widths) the explicit computation,
    # "eager" the explicit computation: both give the same logits
    overrides = {"num_cross_attention_v_channels": 32, "num_self_attention_v_channels": 32,
                 "decoder_num_cross_attention_v_channels": 32} if equal_head_widths else {}
    folder = saved(tiny_model(**overrides))
    input_ids = random_ids(2, 24, seed=11)
    logits = {}
    for implementation in ("sdpa", "eager", None):
        kwargs = {} if implementation is None else {"attn_implementation": implementation}
        model = AutoModelForMaskedLM.from_pretrained(folder, **kwargs).eval()
        assert model.config._attn_implementation == (implementation or "sdpa")
        with torch.no_grad():
            logits[implementation] = model(input_ids).logits
    assert model.attention_function() is core_attention.default_attention_forward
    torch.testing.assert_close(logits["sdpa"], logits["eager"], atol=1e-5, rtol=0)
    torch.testing.assert_close(logits[None], logits["sdpa"], atol=0, rtol=0)
    for implementation, function in (
        ("eager", core_attention.eager_attention_forward), ("sdpa", core_attention.default_attention_forward)
    ):
        model.set_attn_implementation(implementation)
        assert model.attention_function() is function
        with torch.no_grad():
            torch.testing.assert_close(model(input_ids).logits, logits[implementation], atol=0, rtol=0)
    for unsupported in ("flash_attention_2", "flex_attention", "paged|eager", "foo"):
        with pytest.raises(ValueError, match="not support|not supported"):
            model.set_attn_implementation(unsupported)
    assert model.config._attn_implementation == "sdpa"


def test_default_attention_runs_sdpa_only_where_it_is_faster(monkeypatch):
    # CPU: equal q/k and v head widths -> SDPA; mixed widths -> the explicit computation (SDPA's slower fallback),
    # except in float64, where the explicit float32 softmax would be coarser than SDPA
    torch.manual_seed(0)
    calls = []
    sdpa = core_attention.sdpa_attention_forward
    monkeypatch.setattr(core_attention, "sdpa_attention_forward", lambda *a, **k: calls.append(1) or sdpa(*a, **k))
    for v_width, dtype, expected_sdpa in ((8, torch.float32, True), (16, torch.float32, False), (16, torch.float64, True)):
        q, k = torch.randn(2, 4, 5, 8, dtype=dtype), torch.randn(2, 4, 7, 8, dtype=dtype)
        v = torch.randn(2, 4, 7, v_width, dtype=dtype)
        mask = torch.rand(2, 1, 1, 7) > 0.3
        calls.clear()
        fast, _ = core_attention.default_attention_forward(None, q, k, v, mask, scaling=8**-0.5)
        eager, _ = core_attention.eager_attention_forward(None, q, k, v, mask, scaling=8**-0.5)
        assert bool(calls) == expected_sdpa
        torch.testing.assert_close(fast, eager, atol=1e-6, rtol=0)
