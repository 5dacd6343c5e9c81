"""PEFT's LoRA finds the attention linears by name and wraps every one of them (issue 25 item 2).

LoRA starts with B = 0, so a fresh adapter leaves the outputs exactly as they were; one optimizer step moves them.
The saved adapter (and, for the sequence classifier, the head PEFT saves beside it) reloads onto a fresh model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.clients import ATTENTION_PROJECTIONS, num_attention_layers
from safetensors import safe_open
from torch import nn

from perceiver_hf import PerceiverForSequenceClassification

peft = pytest.importorskip("peft")
from peft.tuners.lora import LoraLayer  # noqa: E402


def lora_layer_names(model: nn.Module) -> list[str]:
    return [name for name, module in model.named_modules() if isinstance(module, LoraLayer)]


def trainable_names(model: nn.Module) -> set[str]:
    return {name for name, param in model.named_parameters() if param.requires_grad}


def one_training_step(model: nn.Module, **batch: torch.Tensor) -> None:
    model.train()
    optimizer = torch.optim.AdamW((p for p in model.parameters() if p.requires_grad), lr=1e-2)
    model(**batch).loss.backward()
    optimizer.step()
    model.eval()


def test_lora_wraps_every_attention_projection_of_the_masked_lm(tiny_model, random_ids, tmp_path: Path):
    model = tiny_model()
    ids = random_ids(2, 24)  # [2, 24]
    frozen = {name: param.detach().clone() for name, param in model.named_parameters()}
    with torch.no_grad():
        before = model(ids).logits  # [2, 24, 262]
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=list(ATTENTION_PROJECTIONS)))
    wrapped = lora_layer_names(lora)
    assert len(wrapped) == len(ATTENTION_PROJECTIONS) * num_attention_layers(model.config)
    assert {name.rsplit(".", 1)[-1] for name in wrapped} == set(ATTENTION_PROJECTIONS)
    trainable = trainable_names(lora)
    assert len(trainable) == 2 * len(wrapped)  # lora_A and lora_B of each wrapped linear
    assert all(".lora_A." in name or ".lora_B." in name for name in trainable)
    with torch.no_grad():
        assert torch.equal(lora(ids).logits, before)  # B = 0: the adapter adds exactly nothing

    one_training_step(lora, input_ids=ids, labels=ids)
    with torch.no_grad():
        after = lora(ids).logits
    assert not torch.allclose(after, before, atol=1e-3)
    base = {name.replace(".base_layer", ""): param for name, param in lora.get_base_model().named_parameters()
            if "lora_" not in name}  # fmt: skip
    assert base.keys() == frozen.keys() and all(torch.equal(base[name], frozen[name]) for name in frozen)

    lora.save_pretrained(tmp_path)
    reloaded = peft.PeftModel.from_pretrained(tiny_model(), tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids).logits, after, rtol=0, atol=1e-6)


def test_lora_for_sequence_classification_trains_and_saves_the_head(random_ids, tmp_path: Path):
    from conftest import make_tiny_config, randomize_

    def make_classifier() -> PerceiverForSequenceClassification:
        return randomize_(PerceiverForSequenceClassification(make_tiny_config(num_labels=3))).eval()

    model = make_classifier()
    ids, labels = random_ids(4, 24), torch.tensor([0, 1, 2, 1])  # [4, 24], [4]
    with torch.no_grad():
        before = model(ids).logits  # [4, 3]
    config = peft.LoraConfig(task_type="SEQ_CLS", r=4, target_modules=list(ATTENTION_PROJECTIONS))
    lora = peft.get_peft_model(model, config)
    # the backbone has no decoder; the head's own attention is not wrapped but trained whole (modules_to_save)
    assert len(lora_layer_names(lora)) == len(ATTENTION_PROJECTIONS) * num_attention_layers(model.config, decoder=False)
    assert all(name.startswith("base_model.model.perceiver.") for name in lora_layer_names(lora))
    trainable = trainable_names(lora)
    head = {name for name in trainable if name.startswith("base_model.model.classifier.modules_to_save.")}
    assert len(head) == sum(1 for _ in model.classifier.original_module.parameters())
    assert all(".lora_A." in name or ".lora_B." in name for name in trainable - head)
    with torch.no_grad():
        assert torch.equal(lora(ids).logits, before)

    one_training_step(lora, input_ids=ids, labels=labels)
    with torch.no_grad():
        after = lora(ids).logits
    assert not torch.allclose(after, before, atol=1e-3)

    lora.save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "adapter_model.safetensors"), framework="pt") as saved:
        assert any(key.startswith("base_model.model.classifier.") for key in saved.keys())
    reloaded = peft.PeftModel.from_pretrained(make_classifier(), tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids).logits, after, rtol=0, atol=1e-6)
