"""Loading with accelerate device maps (CPU and disk offload) and in half precision.

Every offloaded load must give the plain load's logits; half-precision loads must stay finite, padding and
fully-masked rows included, on the SDPA path and on the eager path (output_attentions=True).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import make_tiny_config

from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf.hub.device_map import latent_layer_device_map

NUM_LAYERS = 4


def _layer_map(devices: list[str], **overrides: str) -> dict[str, str]:
    """`latent_layer_device_map` for the saved model (layer i on `devices[i]`), with `overrides` (dots as __)."""
    device_map = latent_layer_device_map(make_tiny_config(num_self_attention_layers_per_block=NUM_LAYERS), devices)
    device_map.update({key.replace("__", "."): value for key, value in overrides.items()})
    return device_map


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A randomized tiny model with 4 latent layers saved to disk; inputs with padding and the plain logits."""
    from conftest import make_random_ids, make_tiny_model

    folder = tmp_path_factory.mktemp("device_map") / "model"
    model = make_tiny_model(seed=5, num_self_attention_layers_per_block=NUM_LAYERS)
    model.save_pretrained(folder)
    input_ids = make_random_ids(3, 24, seed=1)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 15:] = 0  # right padding
    attention_mask[2, :] = 0  # nothing valid: every key masked
    with torch.no_grad():
        logits = model(input_ids, attention_mask=attention_mask).logits
    return {"folder": folder, "inputs": {"input_ids": input_ids, "attention_mask": attention_mask}, "logits": logits}


def _logits(model: PerceiverForMaskedLM, inputs: dict, **kwargs) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(**inputs, **kwargs).logits


def test_device_map_auto_gives_the_plain_logits(saved: dict) -> None:
    model = PerceiverForMaskedLM.from_pretrained(saved["folder"], device_map="auto")
    assert torch.equal(_logits(model, saved["inputs"]), saved["logits"])


def test_low_cpu_mem_usage_gives_the_plain_logits(saved: dict) -> None:
    model = PerceiverForMaskedLM.from_pretrained(saved["folder"], low_cpu_mem_usage=True)
    assert torch.equal(_logits(model, saved["inputs"]), saved["logits"])


def test_explicit_map_splitting_latent_layers_between_cpu_and_disk(saved: dict, tmp_path: Path) -> None:
    device_map = _layer_map(["cpu", "disk", "cpu", "disk"])
    model = PerceiverForMaskedLM.from_pretrained(saved["folder"], device_map=device_map, offload_folder=tmp_path)
    assert model.hf_device_map == device_map
    layers = model.perceiver.encoder.self_attention.layers
    for i in (1, 3):  # offloaded: weights stay on the meta device, a hook loads them for each forward
        assert hasattr(layers[i], "_hf_hook")  # (reads them from the safetensors file itself)
        assert all(p.device.type == "meta" for p in layers[i].parameters())
    assert all(p.device.type == "cpu" for p in layers[0].parameters())
    assert torch.equal(_logits(model, saved["inputs"]), saved["logits"])


def test_auto_map_with_too_little_memory_offloads_to_disk(saved: dict, tmp_path: Path) -> None:
    model = PerceiverForMaskedLM.from_pretrained(
        saved["folder"], device_map="auto", max_memory={"cpu": "200KB"}, offload_folder=tmp_path
    )
    assert "disk" in model.hf_device_map.values()
    assert torch.equal(_logits(model, saved["inputs"]), saved["logits"])


def test_whole_model_on_disk(saved: dict, tmp_path: Path) -> None:
    model = PerceiverForMaskedLM.from_pretrained(saved["folder"], device_map={"": "disk"}, offload_folder=tmp_path)
    assert torch.equal(_logits(model, saved["inputs"]), saved["logits"])


def test_tied_embedding_and_head_on_disk_together(saved: dict, tmp_path: Path) -> None:
    device_map = _layer_map(["cpu"] * NUM_LAYERS, perceiver__encoder__input_adapter="disk", lm_head="disk")
    model = PerceiverForMaskedLM.from_pretrained(saved["folder"], device_map=device_map, offload_folder=tmp_path)
    assert torch.equal(_logits(model, saved["inputs"]), saved["logits"])


@pytest.mark.parametrize("embedding, head", [("disk", "cpu"), ("cpu", "disk")])
def test_splitting_the_tied_embedding_is_a_clear_error(saved: dict, tmp_path: Path, embedding: str, head: str) -> None:
    device_map = _layer_map(["cpu"] * NUM_LAYERS, perceiver__encoder__input_adapter=embedding, lm_head=head)
    with pytest.raises(ValueError, match="tied weight; give the modules holding them"):
        PerceiverForMaskedLM.from_pretrained(saved["folder"], device_map=device_map, offload_folder=tmp_path)


def test_untied_head_may_live_elsewhere(tmp_path: Path, tiny_model, random_ids) -> None:
    model = tiny_model(seed=6, tie_word_embeddings=False)
    model.save_pretrained(tmp_path / "model")
    inputs = {"input_ids": random_ids(2, 10)}
    device_map = {"perceiver": "cpu", "lm_head": "disk"}
    loaded = PerceiverForMaskedLM.from_pretrained(
        tmp_path / "model", device_map=device_map, offload_folder=tmp_path / "offload"
    )
    assert torch.equal(_logits(loaded, inputs), _logits(model, inputs))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("eager", [False, True], ids=["sdpa", "eager"])
def test_half_precision_loads_and_stays_finite(saved: dict, dtype: torch.dtype, eager: bool) -> None:
    model = PerceiverForMaskedLM.from_pretrained(saved["folder"], dtype=dtype).eval()
    assert {p.dtype for p in model.parameters()} == {dtype}
    with torch.no_grad():
        output = model(**saved["inputs"], output_attentions=eager)
    logits, reference = output.logits, saved["logits"]
    assert logits.dtype == dtype
    assert torch.isfinite(logits).all()
    # half precision follows the float32 model: error well below the logits' spread
    error = (logits.float() - reference).abs().max().item()
    assert error < 0.05 * reference.abs().max().item(), error
    if eager:
        encoder_weights = output.cross_attentions[0]  # [B, H, N, L]
        assert torch.isfinite(encoder_weights).all()
        assert (encoder_weights[1, :, :, 15:] == 0).all()  # padded keys get probability exactly 0


def test_layer_map_needs_one_device_per_layer() -> None:
    config = make_tiny_config(num_self_attention_layers_per_block=NUM_LAYERS)
    assert latent_layer_device_map(config, ["cpu", "disk", "cpu", "disk"])["perceiver.encoder.self_attention.layers.3"] == "disk"
    with pytest.raises(ValueError, match="one device per layer"):
        latent_layer_device_map(config, ["cpu", "disk"])
