"""core.Linear: nn.Linear with a oneDNN pre-packed inference path on CPU; same results, same parameters."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from torch import nn

from perceiver_hf.core import linear as linear_module
from perceiver_hf.core.linear import Linear

pytestmark = pytest.mark.skipif(not linear_module._ONEDNN_LINEAR, reason="this torch build has no oneDNN linear")


def make_pair(bias: bool = True) -> tuple[Linear, nn.Linear]:
    torch.manual_seed(0)
    reference = nn.Linear(24, 40, bias=bias)
    ours = Linear(24, 40, bias=bias)
    ours.load_state_dict(reference.state_dict())
    return ours, reference


@pytest.mark.parametrize("bias", [True, False])
def test_packed_inference_equals_nn_linear(bias):
    ours, reference = make_pair(bias)
    x = torch.randn(3, 7, 24)
    with torch.inference_mode():
        expected = reference(x)
        torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-5)
        assert ours._packed is not None  # the packed path really ran
        torch.testing.assert_close(ours(x.transpose(0, 1).contiguous().transpose(0, 1)), expected)  # strided input
        assert ours(torch.randn(0, 24)).shape == (0, 40)


def test_state_dict_keys_are_nn_linears():
    ours, reference = make_pair()
    assert list(ours.state_dict()) == list(reference.state_dict()) == ["weight", "bias"]
    assert isinstance(ours, nn.Linear)


def test_a_changed_weight_is_repacked():
    ours, reference = make_pair()
    x = torch.randn(5, 24)
    with torch.no_grad():
        ours(x)
        for module in (ours, reference):
            module.weight.mul_(-2.0)  # in place: same storage, new version
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=1e-5)
        reference.weight.copy_(torch.randn(40, 24))
        ours.load_state_dict(reference.state_dict())
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=1e-5)


def test_training_takes_the_autograd_path_and_drops_the_packed_copy():
    ours, reference = make_pair()
    x = torch.randn(5, 24)
    with torch.no_grad():
        ours(x)
    ours(x).sum().backward()
    reference(x).sum().backward()
    assert ours._packed is None
    torch.testing.assert_close(ours.weight.grad, reference.weight.grad)


def test_copies_and_pickles_leave_the_packed_weight_out():
    ours, _ = make_pair()
    with torch.no_grad():
        ours(torch.randn(2, 24))
    for clone in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert clone._packed is None
        torch.testing.assert_close(clone.weight, ours.weight)
    torch.save(ours, io.BytesIO())


def test_other_dtypes_take_the_ordinary_path():
    ours, reference = make_pair()
    ours, reference = ours.double(), reference.double()
    x = torch.randn(4, 24, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x))
    assert ours._packed is None
