"""The perceiver-io library's encoder options: repeated cross-attention and unshared first weights.

    num_cross_attention_layers          block applications that start with a cross-attention to the input
    first_cross_attention_layer_shared  the later cross-attentions reuse the first one's weights
    first_self_attention_block_shared   the later block applications reuse the first block's weights

Their outputs are checked against the library itself in tests/test_convert_perceiver_io.py (0.4) and
tests/test_convert_perceiver_io_hf.py (0.11); here: parameter counts from hand-computed layer sizes, the
schedule (an unshared model whose second weights equal the first computes the shared model), errors, both APIs,
save/load, gradient checkpointing and `freeze_encoder`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import make_tiny_config, make_tiny_model

from perceiver_hf import PerceiverForMaskedLM, PerceiverForSequenceClassification
from perceiver_hf.text.language import MaskedLanguageModel, TextDecoderConfig, TextEncoderConfig
from perceiver_hf.training.freezing import freeze_encoder

# The tiny config's layers, counted by hand (D = 96 latent channels, C = 64 input channels, q/k 32, v 96, MLP 1x):
# cross-attention: LayerNorms 2*96 + 2*64, q 96*32+32, k 64*32+32, v 64*96+96, o 96*96+96, MLP LayerNorm 2*96,
# two 96x96 linears with bias
CROSS_ATTENTION_LAYER = 192 + 128 + 3104 + 2080 + 6240 + 9312 + 192 + 9312 + 9312
# self-attention layer: LayerNorm 2*96, q and k 96*32+32, v and o 96*96+96, MLP as above; the block has 2 layers
SELF_ATTENTION_BLOCK = 2 * (192 + 3104 + 3104 + 9312 + 9312 + 192 + 9312 + 9312)
REPEATED = dict(num_self_attention_blocks=3, num_cross_attention_layers=2)


def _num_parameters(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


@pytest.mark.parametrize(
    "sharing, extra",
    [
        (dict(first_cross_attention_layer_shared=True, first_self_attention_block_shared=True), 0),
        (dict(first_cross_attention_layer_shared=False, first_self_attention_block_shared=True), CROSS_ATTENTION_LAYER),
        (dict(first_cross_attention_layer_shared=True, first_self_attention_block_shared=False), SELF_ATTENTION_BLOCK),
        (dict(first_cross_attention_layer_shared=False, first_self_attention_block_shared=False),
         CROSS_ATTENTION_LAYER + SELF_ATTENTION_BLOCK),
    ],
    ids=["all-shared", "own-cross", "own-block", "both-own"],
)
def test_unshared_weights_add_exactly_one_layer_or_block(sharing: dict, extra: int) -> None:
    shared = PerceiverForMaskedLM(make_tiny_config())
    model = PerceiverForMaskedLM(make_tiny_config(**REPEATED, **sharing))
    assert _num_parameters(model) - _num_parameters(shared) == extra
    # the size check before allocation counts the same layers (it builds them on the meta device)
    assert PerceiverForMaskedLM.estimated_num_parameters(model.config) - PerceiverForMaskedLM.estimated_num_parameters(shared.config) == extra


def test_the_plain_pytorch_api_builds_the_same_encoder() -> None:
    options = dict(REPEATED, first_self_attention_block_shared=False)
    config = make_tiny_config(**options)
    widths = {name: getattr(config, name) for name in (
        "num_cross_attention_heads", "num_cross_attention_qk_channels", "num_cross_attention_v_channels",
        "num_self_attention_heads", "num_self_attention_qk_channels", "num_self_attention_v_channels",
        "num_self_attention_layers_per_block",
    )}  # fmt: skip
    plain = MaskedLanguageModel(
        TextEncoderConfig(vocab_size=262, max_seq_len=128, num_input_channels=64, **widths, **options),
        TextDecoderConfig(vocab_size=262, max_seq_len=128),
        num_latents=16, num_latent_channels=96,
    )  # fmt: skip
    hf_encoder = PerceiverForMaskedLM(config).perceiver.encoder
    assert _num_parameters(plain.model.encoder) == _num_parameters(hf_encoder)
    assert [name for name, _ in plain.model.encoder.named_parameters()] == [
        name for name, _ in hf_encoder.named_parameters()
    ]


@pytest.mark.parametrize("unshared", ["cross", "block"])
def test_second_weights_equal_to_the_first_compute_the_shared_model(unshared: str) -> None:
    """The schedule: which application uses which weights. Copying the first weights into the unshared ones
    must give the shared model's logits; perturbing the copy must change them (so the copy is used)."""
    option = "first_cross_attention_layer_shared" if unshared == "cross" else "first_self_attention_block_shared"
    shared = make_tiny_model(seed=3, **REPEATED, **{option: True})
    model = PerceiverForMaskedLM(make_tiny_config(**REPEATED, **{option: False})).eval()
    missing, unexpected = model.load_state_dict(shared.state_dict(), strict=False)
    later = "later_cross_attention" if unshared == "cross" else "later_self_attention"
    assert not unexpected and missing and all(f"encoder.{later}." in name for name in missing)
    encoder = model.perceiver.encoder
    first = encoder.cross_attention if unshared == "cross" else encoder.self_attention
    getattr(encoder, later).load_state_dict(first.state_dict())

    input_ids = torch.randint(0, 262, (2, 20), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(input_ids)
    mask[1, 12:] = 0
    with torch.no_grad():
        expected = shared(input_ids=input_ids, attention_mask=mask).logits
        logits = model(input_ids=input_ids, attention_mask=mask).logits
        assert float((logits - expected).abs().max()) <= 1e-5
        for parameter in getattr(encoder, later).parameters():
            parameter.add_(0.5)
        assert float((model(input_ids=input_ids, attention_mask=mask).logits - expected).abs().max()) > 1e-2


def test_attentions_and_hidden_states_follow_the_schedule() -> None:
    model = make_tiny_model(**REPEATED)
    out = model(input_ids=torch.randint(0, 262, (1, 9)), output_attentions=True, output_hidden_states=True)
    # 2 encoder cross-attentions + the decoder's; 3 applications x 2 layers; a state after every applied layer
    assert len(out.cross_attentions) == 3
    assert len(out.attentions) == 6
    assert len(out.hidden_states) == 2 + 6


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(num_cross_attention_layers=2), r"num_cross_attention_layers must be at most num_self_attention_blocks \(1\)"),
        (dict(num_cross_attention_layers=0), r"num_cross_attention_layers must be a positive integer, got 0"),
        (dict(first_self_attention_block_shared="no"), r"first_self_attention_block_shared must be true or false"),
    ],
)
def test_impossible_options_are_refused_with_the_fix(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_tiny_config(**overrides)


def test_unshared_model_saves_and_loads_strictly(tmp_path: Path) -> None:
    model = make_tiny_model(seed=5, **REPEATED, first_self_attention_block_shared=False)
    model.save_pretrained(tmp_path / "m")
    loaded = PerceiverForMaskedLM.from_pretrained(tmp_path / "m").eval()
    assert (loaded.config.num_cross_attention_layers, loaded.config.first_self_attention_block_shared) == (2, False)
    input_ids = torch.randint(0, 262, (2, 11))
    with torch.no_grad():
        assert torch.equal(model(input_ids=input_ids).logits, loaded(input_ids=input_ids).logits)
    # a shared config cannot silently load an unshared checkpoint (or the reverse): the extra weights are named
    with pytest.raises(Exception, match="later_self_attention"):
        PerceiverForMaskedLM.from_pretrained(tmp_path / "m", first_self_attention_block_shared=True)


def test_gradient_checkpointing_runs_every_application() -> None:
    model = make_tiny_model(seed=6, **REPEATED, first_cross_attention_layer_shared=False).train()
    input_ids = torch.randint(0, 262, (2, 10), generator=torch.Generator().manual_seed(1))

    def gradients() -> dict[str, torch.Tensor]:
        model.zero_grad()
        model(input_ids=input_ids, labels=input_ids).loss.backward()
        return {name: parameter.grad.clone() for name, parameter in model.named_parameters()}

    plain = gradients()
    model.activation_checkpointing_enable()
    checkpointed = gradients()
    assert float(plain["perceiver.encoder.later_cross_attention.attention.q_proj.weight"].abs().max()) > 0
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, rtol=1e-5, atol=1e-6, msg=name)


def test_freeze_encoder_trains_only_the_decoder() -> None:
    model = PerceiverForSequenceClassification(make_tiny_config(num_labels=3, **REPEATED)).train()
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    trainable, total = freeze_encoder(model)
    assert trainable == sum(parameter.numel() for parameter in model.classifier.parameters())
    assert total == _num_parameters(model)
    optimizer = torch.optim.SGD([parameter for parameter in model.parameters() if parameter.requires_grad], lr=0.1)
    model(input_ids=torch.randint(0, 262, (4, 12)), labels=torch.tensor([0, 1, 2, 1])).loss.backward()
    optimizer.step()
    for name, parameter in model.named_parameters():
        changed = not torch.equal(parameter, before[name])
        assert changed == name.startswith("classifier."), name


def test_freeze_encoder_names_what_it_needs() -> None:
    with pytest.raises(TypeError, match=r"has no Perceiver IO encoder"):
        freeze_encoder(torch.nn.Linear(2, 2))


def test_train_freeze_encoder_fine_tunes_only_the_head(tmp_path: Path) -> None:
    """`perceiver-hf train --freeze_encoder` from the shipped model: the saved encoder is the shipped one,
    bit for bit, and the classifier head moved from its initialisation."""
    import json

    from safetensors.torch import load_file

    from perceiver_hf import pretrained_model_path
    from perceiver_hf.training.run import run_from_argv

    rows = [{"text": text, "label": label} for text, label in
            [("x = f(y)", "code"), ("The sun set.", "prose"), ("import os", "code"), ("We walked.", "prose")] * 2]
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(row) + "\n" for row in rows))
    run_from_argv([
        "--task", "text-classification", "--model_name_or_path", str(pretrained_model_path()), "--freeze_encoder",
        "--train_file", str(train), "--output_dir", str(tmp_path / "out"), "--max_steps", "3",
        "--per_device_train_batch_size", "4", "--learning_rate", "1e-2", "--disable_tqdm", "true",
        "--cache_dir", str(tmp_path / "cache"), "--report_to", "none", "--seed", "3",
        "--validation_split_percentage", "0",
    ])  # fmt: skip
    shipped = load_file(pretrained_model_path() / "model.safetensors")
    trained = load_file(tmp_path / "out" / "model.safetensors")
    encoder = [name for name in trained if name.startswith("perceiver.encoder.")]
    assert encoder and all(torch.equal(trained[name], shipped[name]) for name in encoder)
    # the head trained: its output bias starts at 0 (transformers' initialisation of a Linear bias)
    fresh = PerceiverForSequenceClassification.from_pretrained(pretrained_model_path(), num_labels=2)
    assert float(fresh.classifier.output_adapter.linear.bias.abs().max()) == 0
    assert float(trained["classifier.output_adapter.linear.bias"].abs().max()) > 0
