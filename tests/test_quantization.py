"""int8 dynamic quantization: the arithmetic against a hand-written reference, a whole model, the CLI option."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from helpers.memorised_mlm import MASKED_WORD, SENTENCE, save_memorised_model_folder
from torch import nn

from perceiver_hf import quantize_dynamic_int8
from perceiver_hf.cli import main
from perceiver_hf.quantization import Int8DynamicLinear


def reference_int8_linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Symmetric int8 quantization written out in float64 numpy: weights per output row, inputs per input row."""
    w_scale = np.abs(weight).max(axis=1) / 127  # [N]
    x_scale = np.abs(x).max(axis=1, keepdims=True) / 127  # [M, 1]
    x_scale[x_scale == 0] = 1.0  # an all-zero row quantizes to zeros whatever its scale
    w_int = np.round(weight / w_scale[:, None])  # [N, K], integers in [-127, 127]
    x_int = np.round(x / x_scale)  # [M, K]
    return (x_int @ w_int.T) * x_scale * w_scale + bias  # [M, N]


def test_int8_linear_matches_the_reference_arithmetic():
    torch.manual_seed(0)
    linear = nn.Linear(48, 24)
    x = torch.randn(2, 5, 48) * 3
    x[0, 1] = 0.0  # an all-zero row must not divide by zero
    out = Int8DynamicLinear(linear)(x)  # [2, 5, 24]
    expected = reference_int8_linear(
        x.reshape(-1, 48).double().numpy(), linear.weight.detach().double().numpy(), linear.bias.detach().double().numpy()
    )
    np.testing.assert_allclose(out.reshape(-1, 24).numpy(), expected, rtol=0, atol=1e-5)
    # and the int8 result is close to float32 (relative error of a few 1e-3)
    exact = linear(x).detach()
    assert float((out - exact).abs().max() / exact.abs().max()) < 2e-2


def test_all_zero_row_gives_the_bias():
    linear = nn.Linear(8, 4)
    out = Int8DynamicLinear(linear)(torch.zeros(1, 8))
    torch.testing.assert_close(out[0], linear.bias.detach())


def test_quantized_model_replaces_every_linear_and_keeps_the_original(tiny_model, random_ids):
    model = tiny_model()
    original = copy.deepcopy(model.state_dict())
    linears = sum(isinstance(m, nn.Linear) for m in model.modules())
    quantized = quantize_dynamic_int8(model)
    # 4 attention layers x (q, k, v, o, mlp fc1, fc2); the lm_head (tied to the input embedding) stays float32
    assert sum(isinstance(m, Int8DynamicLinear) for m in quantized.modules()) == linears - 1 == 4 * 6
    assert [type(m) for m in quantized.modules() if isinstance(m, nn.Linear)] == [nn.Linear]
    assert quantized.lm_head.weight is quantized.get_input_embeddings().weight
    assert all(torch.equal(original[k], v) for k, v in model.state_dict().items())  # inplace=False: a copy
    ids = random_ids(2, 40)
    with torch.no_grad():
        exact, approx = model(ids).logits, quantized(ids).logits  # [2, 40, 262]
    assert float((exact - approx).abs().max() / exact.abs().max()) < 5e-2
    assert float((exact.argmax(-1) == approx.argmax(-1)).float().mean()) > 0.9


def test_inplace_quantization_modifies_the_model(tiny_model):
    model = tiny_model()
    assert quantize_dynamic_int8(model, inplace=True) is model
    assert isinstance(model.perceiver.encoder.cross_attention.attention.q_proj, Int8DynamicLinear)


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda m: m.to(torch.bfloat16), "model.float()"),
        (lambda m: m.to("meta"), "CPU only"),
        (lambda m: nn.Sequential(nn.LayerNorm(4)), "nothing to quantize"),
    ],
    ids=["bfloat16", "not-on-cpu", "no-linear"],
)
def test_refuses_what_it_cannot_quantize(tiny_model, prepare, message):
    with pytest.raises(ValueError, match=message):
        quantize_dynamic_int8(prepare(tiny_model()))


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_memorised_model_folder(tmp_path_factory.mktemp("memorised-mlm")))


def test_fill_cli_with_int8_still_fills_the_memorised_word(model_folder, capsys):
    masked = SENTENCE.replace(MASKED_WORD, "[MASK]" * len(MASKED_WORD))
    assert main(["fill", model_folder, masked, "--quantize", "int8"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == SENTENCE


def test_fill_cli_int8_refuses_a_non_cpu_device(model_folder, capsys):
    masked = SENTENCE.replace(MASKED_WORD, "[MASK]" * len(MASKED_WORD))
    assert main(["fill", model_folder, masked, "--quantize", "int8", "--device", "meta"]) == 2
    assert "--quantize int8: int8 dynamic quantization runs on CPU only" in capsys.readouterr().err
