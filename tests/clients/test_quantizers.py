"""Quantization tools of the ecosystem replace every linear they target, on CPU (issue 25 item 2).

While the model swapped `nn.Linear` for a subclass, `quantize_dynamic` and bitsandbytes matched nothing and left
the logits identical without a word. Each test here counts the quantized linears against a count derived from
the config and requires the logits to move (quantization did something) but stay close (it did it right).
Each quantizer package is optional: its test is skipped where the package is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import torch
from helpers.clients import LINEARS_PER_ATTENTION_LAYER, num_attention_layers, relative_error, top1_agreement
from helpers.memorised_mlm import save_model_folder
from torch import nn
from transformers import BitsAndBytesConfig, QuantoConfig, TorchAoConfig
from transformers.utils.quantization_config import QuantizationConfigMixin

from perceiver_hf import PerceiverForMaskedLM

# int8 with one scale per output row (weights) or per input row (activations) moves a logit by a few 1e-3 of the
# largest; the argmax flips only where the top two logits are that close.
MAX_RELATIVE_ERROR = 5e-2
MIN_TOP1_AGREEMENT = 0.9


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import make_tiny_model

    return save_model_folder(make_tiny_model(), tmp_path_factory.mktemp("tiny-mlm"))


@pytest.fixture(scope="module")
def input_ids() -> torch.Tensor:
    from conftest import make_random_ids

    return make_random_ids(2, 40)  # [2, 40]


@pytest.fixture(scope="module")
def float_logits(model_folder: Path, input_ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return PerceiverForMaskedLM.from_pretrained(model_folder).eval()(input_ids).logits  # [2, 40, 262]


def assert_changed_but_close(logits: torch.Tensor, float_logits: torch.Tensor) -> None:
    assert not torch.equal(logits, float_logits), "the logits are unchanged: nothing was quantized"
    assert relative_error(logits, float_logits) < MAX_RELATIVE_ERROR
    assert top1_agreement(logits, float_logits) > MIN_TOP1_AGREEMENT


# torch.ao.quantization and its quantized tensors are deprecated in favour of torchao
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:torch.quantize_per_tensor")
def test_quantize_dynamic_replaces_every_linear(tiny_model, input_ids, float_logits):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear

    model = tiny_model()
    # every attention layer's linears and the lm_head (quantize_dynamic unties it: the embedding stays float)
    expected = LINEARS_PER_ATTENTION_LAYER * num_attention_layers(model.config) + 1
    assert sum(type(m) is nn.Linear for m in model.modules()) == expected
    quantized = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    assert sum(type(m) is nn.Linear for m in quantized.modules()) == 0
    assert sum(isinstance(m, DynamicQuantizedLinear) for m in quantized.modules()) == expected
    with torch.no_grad():
        assert_changed_but_close(quantized(input_ids).logits, float_logits)


# A transformers quantization config and the test that one loaded linear was quantized by it
Quantizer = tuple[QuantizationConfigMixin, Callable[[nn.Linear], bool]]


def quanto_int8() -> Quantizer:
    """optimum-quanto swaps each targeted linear for a `QLinear` whose weight is a quantized tensor."""
    quanto = pytest.importorskip("optimum.quanto")

    def is_quantized(module: nn.Linear) -> bool:
        return isinstance(module, quanto.QLinear) and isinstance(module.weight, quanto.QTensor)

    return QuantoConfig(weights="int8"), is_quantized


def torchao_int8(name: str) -> Callable[[], Quantizer]:
    """torchao keeps each `nn.Linear` and swaps its weight for a tensor subclass (`name`: a torchao config class)."""

    def make() -> Quantizer:
        pytest.importorskip("torchao")
        from torchao import quantization
        from torchao.utils import TorchAOBaseTensor

        return TorchAoConfig(getattr(quantization, name)()), lambda m: isinstance(m.weight, TorchAOBaseTensor)

    return make


def bitsandbytes_int8() -> Quantizer:
    """bitsandbytes swaps each targeted linear for a `Linear8bitLt` (its CPU backend runs the int8 matmul)."""
    bnb = pytest.importorskip("bitsandbytes")
    return BitsAndBytesConfig(load_in_8bit=True), lambda m: isinstance(m, bnb.nn.Linear8bitLt)


QUANTIZERS = {
    "quanto-int8": quanto_int8,
    "torchao-int8-weight-only": torchao_int8("Int8WeightOnlyConfig"),
    "torchao-int8-dynamic": torchao_int8("Int8DynamicActivationInt8WeightConfig"),
    "bitsandbytes-int8": bitsandbytes_int8,
}


@pytest.mark.filterwarnings("ignore:MatMul8bitLt")  # bitsandbytes: "inputs will be cast from torch.float32 to float16"
@pytest.mark.parametrize("make_quantizer", QUANTIZERS.values(), ids=QUANTIZERS.keys())
def test_quantization_config_quantizes_every_attention_linear(model_folder, input_ids, float_logits, make_quantizer):
    quantization_config, is_quantized = make_quantizer()
    model = PerceiverForMaskedLM.from_pretrained(model_folder, quantization_config=quantization_config).eval()
    quantized = [name for name, m in model.named_modules() if isinstance(m, nn.Linear) and is_quantized(m)]
    assert len(quantized) == LINEARS_PER_ATTENTION_LAYER * num_attention_layers(model.config)
    # transformers keeps the output embedding in float, still tied to the input embedding
    assert "lm_head" not in quantized
    assert model.lm_head.weight is model.get_input_embeddings().weight
    with torch.no_grad():
        assert_changed_but_close(model(input_ids).logits, float_logits)
