"""Traceable forward (issue 17 items 1-2): torch.compile(fullgraph=True) without graph breaks, forward and
backward, dynamic batch and length; torch.export with dynamic dims equal to eager on shapes it was not traced
with. References: the eager model itself."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
from conftest import make_tiny_config, randomize_
from torch._dynamo.utils import counters

from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf.deploy import MaskedLMLogits, export_masked_lm, sample_inputs


@pytest.fixture(scope="module")
def model() -> PerceiverForMaskedLM:
    torch.manual_seed(0)
    return randomize_(PerceiverForMaskedLM(make_tiny_config())).eval()


def batch(config, batch_size: int, seq_len: int, seed: int, labels: bool = False) -> dict[str, torch.Tensor]:
    inputs = sample_inputs(config, batch_size, seq_len, with_positions=False, seed=seed)
    if labels:
        generator = torch.Generator().manual_seed(seed)
        chosen = torch.rand(inputs["input_ids"].shape, generator=generator) < 0.3
        inputs["labels"] = torch.where(chosen, inputs["input_ids"], -100)
    return inputs


@pytest.mark.parametrize("with_positions", [False, True])
def test_the_forward_is_one_graph(model, with_positions: bool) -> None:
    torch._dynamo.reset()
    inputs = sample_inputs(model.config, 2, 20, with_positions=with_positions)
    explanation = torch._dynamo.explain(model)(**inputs)
    assert (explanation.graph_count, explanation.graph_break_count) == (1, 0), explanation.break_reasons


def test_compiled_forward_and_backward_fullgraph_dynamic(model) -> None:
    torch._dynamo.reset()
    counters.clear()
    model.train()  # dropout is 0: training mode only changes which code paths run
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    try:
        for seed, (batch_size, seq_len) in enumerate([(2, 20), (3, 41), (5, 7)]):
            inputs = batch(model.config, batch_size, seq_len, seed, labels=True)
            out = compiled(**inputs)
            out.loss.backward()
            grads = {name: p.grad.clone() for name, p in model.named_parameters()}
            model.zero_grad()
            reference = model(**inputs)
            reference.loss.backward()
            torch.testing.assert_close(out.logits, reference.logits, rtol=1e-5, atol=1e-5)
            for name, p in model.named_parameters():
                torch.testing.assert_close(grads[name], p.grad, rtol=1e-4, atol=1e-5, msg=name)
            model.zero_grad()
    finally:
        model.eval()
    assert dict(counters["graph_break"]) == {}
    assert counters["stats"]["unique_graphs"] == 1  # one dynamic graph served all three shapes


def test_compiled_with_the_default_backend(model) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    with torch.no_grad():
        for seed, (batch_size, seq_len) in enumerate([(2, 20), (3, 33)]):
            inputs = batch(model.config, batch_size, seq_len, seed)
            torch.testing.assert_close(compiled(**inputs).logits, model(**inputs).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("with_positions", [False, True])
def test_exported_program_equals_eager_on_new_shapes(model, strict: bool, with_positions: bool) -> None:
    program = export_masked_lm(model, with_positions=with_positions, strict=strict)  # traced at [2, 16]
    exported = program.module()
    for seed, (batch_size, seq_len) in enumerate([(1, 5), (3, 37), (4, model.config.max_seq_len)]):
        inputs = sample_inputs(model.config, batch_size, seq_len, with_positions=with_positions, seed=seed + 1)
        with torch.no_grad():
            expected = MaskedLMLogits(model)(**inputs)
        got = exported(**inputs)
        assert got.shape == expected.shape
        assert (got - expected).abs().max() <= 1e-5


def test_exported_program_refuses_a_sequence_longer_than_the_model(model) -> None:
    exported = export_masked_lm(model).module()
    too_long = sample_inputs(model.config, 1, model.config.max_seq_len, with_positions=False)
    too_long = {name: torch.cat([value, value[:, :1]], dim=1) for name, value in too_long.items()}
    with pytest.raises(Exception, match=str(model.config.max_seq_len)):
        exported(**too_long)
