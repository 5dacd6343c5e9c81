"""Device maps for accelerate that place each latent self-attention layer of a Perceiver IO model.

    device_map = latent_layer_device_map(config, ["cpu"] * 13 + ["disk"] * 13)
    model = AutoModelForMaskedLM.from_pretrained(path, device_map=device_map, offload_folder="offload")

The input adapter (with the embedding that `lm_head` shares), the latent array, the encoder cross-attention,
the decoder and `lm_head` go to `default`; layer i of the latent self-attention block goes to `layer_devices[i]`.
"""

from __future__ import annotations

from typing import Any, Sequence

# modules outside the latent self-attention block; the tied embedding (input adapter) and lm_head stay together
OTHER_MODULES = (
    "perceiver.encoder.input_adapter",
    "perceiver.encoder.latent_provider",
    "perceiver.encoder.cross_attention",
    "perceiver.decoder",
    "lm_head",
)


def latent_layer_device_map(config: Any, layer_devices: Sequence[Any], default: Any = "cpu") -> dict[str, Any]:
    """A `device_map` for `PerceiverForMaskedLM.from_pretrained`: latent layer i on `layer_devices[i]`.

    Args:
        config: the model's `PerceiverConfig` (for the number of latent layers).
        layer_devices: one device per latent self-attention layer ("cpu", "disk", 0, "cuda:1", ...).
        default: the device of everything else.

    Raises:
        ValueError: `layer_devices` does not have one entry per latent layer.
    """
    num_layers = config.num_self_attention_layers_per_block
    if len(layer_devices) != num_layers:
        raise ValueError(
            f"layer_devices has {len(layer_devices)} entries but the model has {num_layers} latent self-attention "
            "layers; give one device per layer."
        )
    device_map = {name: default for name in OTHER_MODULES}
    for index, device in enumerate(layer_devices):
        device_map[f"perceiver.encoder.self_attention.layers.{index}"] = device
    return device_map


__all__ = ["latent_layer_device_map"]
