"""cpu_linear: OneDNNLinear computes like nn.Linear on CPU (same results, gradients, parameters); models keep
plain nn.Linears unless the opt-in `use_onednn_linears` swaps them (what `perceiver-hf fill` does for its own
float32 CPU model), and the swap can be undone."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf import cpu_linear as linear_module
from perceiver_hf.cpu_linear import OneDNNLinear as Linear
from perceiver_hf.text.language import TextEncoderConfig, build_text_encoder

pytestmark = pytest.mark.skipif(not linear_module._ONEDNN_LINEAR, reason="this torch build has no oneDNN linear")


def make_pair(bias: bool = True) -> tuple[Linear, nn.Linear]:
    torch.manual_seed(0)
    reference = nn.Linear(24, 40, bias=bias)
    ours = Linear(24, 40, bias=bias)
    ours.load_state_dict(reference.state_dict())
    return ours, reference


def count_onednn_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = linear_module._onednn_linear
    monkeypatch.setattr(linear_module, "_onednn_linear", lambda *a: calls.append(1) or original(*a))
    return calls


@pytest.mark.parametrize("bias", [True, False])
def test_inference_equals_nn_linear(bias, monkeypatch):
    calls = count_onednn_calls(monkeypatch)
    ours, reference = make_pair(bias)
    x = torch.randn(3, 7, 24)
    with torch.inference_mode():
        expected = reference(x)
        torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours(x.transpose(0, 1).contiguous().transpose(0, 1)), expected)  # strided input
        assert ours(torch.randn(0, 24)).shape == (0, 40)
    assert len(calls) == 3  # the oneDNN path really ran


@pytest.mark.parametrize(("x_grad", "frozen_weight"), [(True, False), (False, False), (True, True)])
def test_gradients_equal_nn_linear(x_grad, frozen_weight, monkeypatch):
    calls = count_onednn_calls(monkeypatch)
    ours, reference = make_pair()
    for module in (ours, reference):
        module.weight.requires_grad_(not frozen_weight)
    x = torch.randn(3, 7, 24)
    grad_out = torch.randn(3, 7, 40)
    inputs = {}
    for name, module in (("ours", ours), ("reference", reference)):
        inputs[name] = x.clone().requires_grad_(x_grad)
        module(inputs[name]).backward(grad_out)
    torch.testing.assert_close(ours.bias.grad, reference.bias.grad, rtol=1e-5, atol=1e-5)
    if frozen_weight:
        assert ours.weight.grad is None
    else:
        torch.testing.assert_close(ours.weight.grad, reference.weight.grad, rtol=1e-5, atol=1e-5)
    if x_grad:
        torch.testing.assert_close(inputs["ours"].grad, inputs["reference"].grad, rtol=1e-5, atol=1e-5)
    assert len(calls) == 1 + x_grad + (not frozen_weight)  # forward, dL/dx and dL/dW when they are needed


@pytest.mark.parametrize("shape", [(0, 24), (2, 0, 24), (24,)])
def test_gradients_of_empty_and_unbatched_inputs_equal_nn_linear(shape):
    ours, reference = make_pair()
    x = torch.randn(*shape)
    inputs = {}
    for name, module in (("ours", ours), ("reference", reference)):
        inputs[name] = x.clone().requires_grad_(True)
        module(inputs[name]).sum().backward()
    torch.testing.assert_close(ours.weight.grad, reference.weight.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.bias.grad, reference.bias.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(inputs["ours"].grad, inputs["reference"].grad, rtol=1e-5, atol=1e-5)


def test_parameters_and_state_dict_are_nn_linears():
    ours, reference = make_pair()
    assert list(ours.state_dict()) == list(reference.state_dict()) == ["weight", "bias"]
    assert isinstance(ours, nn.Linear)
    torch.testing.assert_close(copy.deepcopy(ours).weight, ours.weight)


def test_other_dtypes_and_autocast_take_nn_linears_path(monkeypatch):
    calls = count_onednn_calls(monkeypatch)
    ours, reference = make_pair()
    x = torch.randn(4, 24)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = ours(x)
        assert out.dtype == torch.bfloat16
        torch.testing.assert_close(out, reference(x))
    ours, reference = ours.double(), reference.double()
    with torch.no_grad():
        torch.testing.assert_close(ours(x.double()), reference(x.double()))
    assert calls == []


def test_models_keep_plain_linears_until_the_opt_in_swaps_them_and_it_can_be_undone(tiny_config):
    torch.manual_seed(0)
    model = PerceiverForMaskedLM(tiny_config()).eval()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linears and all(type(m) is nn.Linear for m in linears)  # what quantizers and PEFT look for
    input_ids = torch.randint(0, model.config.vocab_size, (2, 12))
    with torch.no_grad():
        plain = model(input_ids).logits
    if not linear_module._ONEDNN_LINEAR:
        assert linear_module.use_onednn_linears(model) == 0
        return
    assert linear_module.use_onednn_linears(model) == len(linears)
    assert all(type(m) is Linear for m in linears)
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids).logits, plain, atol=1e-5, rtol=0)
    assert linear_module.use_plain_linears(model) == len(linears)
    assert all(type(m) is nn.Linear for m in linears)
