"""Issue 25 item 5: the classification heads are as traceable as the masked-LM head.

A training step (forward with labels, loss, backward) of each head compiles with `fullgraph=True` and no graph
break, and its loss and gradients equal the eager step's. The label value checks (`classification_labels`) read
tensor values (`int(labels.max())`), which would break the graph: they run in eager mode only, where they still
refuse bad labels (tests/test_classification_heads.py).
"""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
from conftest import make_tiny_config, randomize_
from torch._dynamo.utils import counters

from perceiver_hf import PerceiverForSequenceClassification, PerceiverForTokenClassification

NUM_LABELS = 3


def _batch(head: type, batch_size: int, seq_len: int, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(6, 262, (batch_size, seq_len), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, seq_len // 2 :] = 0  # one padded row
    if head is PerceiverForSequenceClassification:
        labels = torch.randint(0, NUM_LABELS, (batch_size,), generator=generator)
    else:
        labels = torch.randint(0, NUM_LABELS, (batch_size, seq_len), generator=generator)
        labels[:, 0] = -100
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


@pytest.mark.parametrize("head", [PerceiverForSequenceClassification, PerceiverForTokenClassification])
def test_a_compiled_training_step_is_one_graph_and_equals_eager(head: type) -> None:
    torch.manual_seed(0)
    model = randomize_(head(make_tiny_config(num_labels=NUM_LABELS))).train()  # dropout 0: train only picks paths
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(model, fullgraph=True, dynamic=True, backend="aot_eager")
    for seed, (batch_size, seq_len) in enumerate([(2, 12), (3, 21)]):
        inputs = _batch(head, batch_size, seq_len, seed)
        out = compiled(**inputs)
        out.loss.backward()
        compiled_grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        model.zero_grad()
        reference = model(**inputs)
        reference.loss.backward()
        torch.testing.assert_close(out.loss, reference.loss, rtol=1e-5, atol=1e-6)
        assert compiled_grads.keys() == {name for name, p in model.named_parameters() if p.grad is not None}
        for name, p in model.named_parameters():
            if p.grad is not None:
                torch.testing.assert_close(compiled_grads[name], p.grad, rtol=1e-4, atol=1e-5, msg=name)
        model.zero_grad()
    assert dict(counters["graph_break"]) == {}


@pytest.mark.parametrize("head", [PerceiverForSequenceClassification, PerceiverForTokenClassification])
def test_explain_finds_no_break_in_the_loss_path(head: type) -> None:
    model = head(make_tiny_config(num_labels=NUM_LABELS)).train()
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(**_batch(head, 2, 10, seed=5))
    assert (explanation.graph_count, explanation.graph_break_count) == (1, 0), explanation.break_reasons


def test_eager_still_refuses_labels_out_of_range() -> None:
    model = PerceiverForSequenceClassification(make_tiny_config(num_labels=NUM_LABELS))
    inputs = _batch(PerceiverForSequenceClassification, 2, 10, seed=1)
    inputs["labels"] = torch.tensor([0, NUM_LABELS])
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        model(**inputs)
