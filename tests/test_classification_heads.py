"""Sequence and token classification heads: shapes, losses, gradients, padding, positions, the plain-PyTorch API.

Independent references: transformers' / torch's loss functions called directly on the logits, a sequence decoded
alone vs. padded in a batch, positions decoded one at a time vs. all at once, and the plain-PyTorch
`TextClassifier` / `TokenClassifier` (built from the text configs) loaded with the Hugging Face model's weights.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import make_random_ids, make_tiny_config, randomize_

from perceiver_hf import PerceiverForSequenceClassification, PerceiverForTokenClassification
from perceiver_hf.text import ClassificationDecoderConfig, TextClassifier, TextEncoderConfig, TokenClassifier
from perceiver_hf.text.language import TextDecoderConfig

NUM_LABELS = 3


def sequence_model(seed: int = 0, **overrides: object) -> PerceiverForSequenceClassification:
    config = make_tiny_config(num_labels=NUM_LABELS, **overrides)
    return randomize_(PerceiverForSequenceClassification(config), seed).eval()


def token_model(seed: int = 0, **overrides: object) -> PerceiverForTokenClassification:
    config = make_tiny_config(num_labels=NUM_LABELS, **overrides)
    return randomize_(PerceiverForTokenClassification(config), seed).eval()


def test_logit_shapes_and_several_queries() -> None:
    ids = make_random_ids(2, 20)
    assert sequence_model()(ids).logits.shape == (2, NUM_LABELS)
    assert token_model()(ids).logits.shape == (2, 20, NUM_LABELS)
    model = sequence_model(classifier_num_queries=4, classifier_num_query_channels=32)
    assert model.classifier.output_query_provider.query.shape == (4, 32)
    assert model(ids).logits.shape == (2, NUM_LABELS)


def test_sequence_losses_are_transformers_problem_types() -> None:
    ids = make_random_ids(4, 16)
    model = sequence_model()
    labels = torch.tensor([0, 2, 1, 2])
    out = model(ids, labels=labels)
    assert model.config.problem_type == "single_label_classification"
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, labels))

    model = sequence_model(problem_type="multi_label_classification")
    multi_hot = torch.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0]], dtype=torch.float)
    out = model(ids, labels=multi_hot)
    torch.testing.assert_close(out.loss, F.binary_cross_entropy_with_logits(out.logits, multi_hot))

    model = randomize_(PerceiverForSequenceClassification(make_tiny_config(num_labels=1))).eval()
    targets = torch.tensor([0.5, -1.0, 2.0, 0.0])
    out = model(ids, labels=targets)
    assert model.config.problem_type == "regression" and out.logits.shape == (4, 1)
    torch.testing.assert_close(out.loss, F.mse_loss(out.logits.squeeze(-1), targets))


def test_bad_labels_are_one_clear_line() -> None:
    ids = make_random_ids(2, 10)
    with pytest.raises(ValueError, match=r"outside \[0, 3\).*num_labels"):
        sequence_model()(ids, labels=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="batch has 2 sequences"):
        sequence_model()(ids, labels=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"token labels contain class ids outside \[0, 3\)"):
        token_model()(ids, labels=torch.full((2, 10), 5))


def test_every_parameter_gets_a_gradient_and_gradcheck_passes() -> None:
    ids = make_random_ids(2, 12)
    for model, labels in ((sequence_model(), torch.tensor([1, 2])), (token_model(), torch.randint(0, 3, (2, 12)))):
        model.train()
        model(ids, labels=labels).loss.backward()
        without = [name for name, param in model.named_parameters() if param.grad is None or not param.grad.any()]
        assert without == []

    # numerical vs analytical gradients of the loss w.r.t. the classifier query and the latents, in float64
    # (SDPA: the explicit attention computes its softmax in float32 on purpose, too coarse for finite differences)
    model = sequence_model(classifier_num_queries=2).double()
    model.set_attn_implementation("sdpa")
    labels = torch.tensor([0, 2])
    names = ("classifier.output_query_provider.query", "perceiver.encoder.latent_provider.query")
    params = dict(model.named_parameters())

    def loss_of(*values: torch.Tensor) -> torch.Tensor:
        state = {**params, **dict(zip(names, values))}
        return torch.func.functional_call(model, state, (ids,), {"labels": labels}).loss

    inputs = tuple(params[name].detach().clone().requires_grad_() for name in names)
    assert torch.autograd.gradcheck(loss_of, inputs, eps=1e-6, atol=1e-5)


def test_sequence_padding_invariance() -> None:
    model = sequence_model()
    ids = make_random_ids(2, 24, seed=3)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    with torch.no_grad():
        batched = model(ids, attention_mask=mask).logits
        alone = model(ids[1:, :9]).logits
        other_padding = model(ids[1:].masked_fill(mask[1:] == 0, 0), attention_mask=mask[1:]).logits
    torch.testing.assert_close(batched[1:], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(other_padding, alone, atol=1e-5, rtol=1e-5)


def test_token_padding_is_never_scored_and_labels_minus_100_ignored() -> None:
    model = token_model()
    ids = make_random_ids(2, 16, seed=4)
    mask = torch.ones_like(ids)
    mask[0, 10:] = 0
    labels = torch.randint(0, NUM_LABELS, (2, 16), generator=torch.Generator().manual_seed(1))
    labels[1, :4] = -100
    with torch.no_grad():
        out = model(ids, attention_mask=mask, labels=labels)
        alone = model(ids[:1, :10]).logits
    torch.testing.assert_close(out.logits[:1, :10], alone, atol=1e-5, rtol=1e-5)
    scored = (mask == 1) & (labels != -100)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits[scored], labels[scored]))


def test_token_output_positions_decode_only_those() -> None:
    model = token_model()
    ids = make_random_ids(2, 16, seed=5)
    labels = torch.randint(0, NUM_LABELS, (2, 16), generator=torch.Generator().manual_seed(2))
    positions = torch.tensor([[3, 7, 11], [0, 15, -1]])
    with torch.no_grad():
        full = model(ids).logits
        part = model(ids, output_positions=positions, labels=labels)
    assert part.logits.shape == (2, 3, NUM_LABELS)
    torch.testing.assert_close(part.logits[0], full[0, [3, 7, 11]], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(part.logits[1, :2], full[1, [0, 15]], atol=1e-5, rtol=1e-5)
    chosen_logits = torch.cat([full[0, [3, 7, 11]], full[1, [0, 15]]])
    chosen_labels = torch.cat([labels[0, [3, 7, 11]], labels[1, [0, 15]]])
    torch.testing.assert_close(part.loss, F.cross_entropy(chosen_logits, chosen_labels), atol=1e-5, rtol=1e-5)


def _text_configs() -> tuple[TextEncoderConfig, dict[str, object]]:
    config = make_tiny_config()
    encoder = TextEncoderConfig(
        vocab_size=config.vocab_size, max_seq_len=config.max_seq_len, num_input_channels=config.num_input_channels,
        num_cross_attention_heads=config.num_cross_attention_heads,
        num_cross_attention_qk_channels=config.num_cross_attention_qk_channels,
        num_cross_attention_v_channels=config.num_cross_attention_v_channels,
        num_self_attention_heads=config.num_self_attention_heads,
        num_self_attention_qk_channels=config.num_self_attention_qk_channels,
        num_self_attention_v_channels=config.num_self_attention_v_channels,
        num_self_attention_layers_per_block=config.num_self_attention_layers_per_block,
        activation=config.hidden_act,
    )
    sizes = dict(num_latents=config.num_latents, num_latent_channels=config.num_latent_channels)
    return encoder, sizes


def _rename(state: dict[str, torch.Tensor], renames: dict[str, str]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        prefix = next(p for p in renames if key.startswith(p))
        out[renames[prefix] + key[len(prefix):]] = value
    return out


def test_plain_pytorch_classifiers_equal_the_hugging_face_heads() -> None:
    encoder, sizes = _text_configs()
    ids = make_random_ids(2, 20, seed=6)
    mask = torch.ones_like(ids)
    mask[0, 12:] = 0

    hf_sequence = sequence_model(seed=1)
    plain = TextClassifier(encoder, ClassificationDecoderConfig(num_classes=NUM_LABELS), **sizes).eval()
    plain.load_state_dict(_rename(hf_sequence.state_dict(), {"perceiver.": "model.", "classifier.": "model.decoder."}))
    with torch.no_grad():
        torch.testing.assert_close(plain(ids, mask), hf_sequence(ids, attention_mask=mask).logits)

    tiny = make_tiny_config()
    decoder = TextDecoderConfig(
        vocab_size=tiny.vocab_size, max_seq_len=tiny.max_seq_len,
        num_cross_attention_heads=tiny.decoder_num_cross_attention_heads,
        num_cross_attention_qk_channels=tiny.decoder_num_cross_attention_qk_channels,
        num_cross_attention_v_channels=tiny.decoder_num_cross_attention_v_channels, activation=tiny.hidden_act,
    )
    hf_token = token_model(seed=2)
    plain_token = TokenClassifier(encoder, decoder, NUM_LABELS, **sizes).eval()
    plain_token.load_state_dict(
        _rename(hf_token.state_dict(), {"perceiver.": "model.", "classifier.": "model.decoder.output_adapter."})
    )
    positions = torch.tensor([[0, 5, -1], [19, 2, 1]])
    with torch.no_grad():
        torch.testing.assert_close(plain_token(ids, mask), hf_token(ids, attention_mask=mask).logits)
        torch.testing.assert_close(
            plain_token(ids, mask, positions)[:, :2],
            hf_token(ids, attention_mask=mask, output_positions=positions).logits[:, :2],
        )


def test_save_and_load_round_trip(tmp_path) -> None:
    labels = {0: "neg", 1: "neu", 2: "pos"}
    ids = make_random_ids(2, 14, seed=7)
    for make in (sequence_model, token_model):
        model = make(seed=3, id2label=labels, label2id={v: k for k, v in labels.items()})
        folder = tmp_path / type(model).__name__
        model.save_pretrained(folder)
        loaded, info = type(model).from_pretrained(folder, output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"]
        assert loaded.config.id2label == labels and loaded.config.num_labels == 3
        with torch.no_grad():
            torch.testing.assert_close(loaded.eval()(ids).logits, model(ids).logits, atol=0, rtol=0)
