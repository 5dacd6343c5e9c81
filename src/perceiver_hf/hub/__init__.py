"""Sharing on the Hugging Face Hub and loading anywhere.

- `export_for_hub(model, folder, tokenizer)` (`perceiver-hf export-hub`): weights + config with `auto_map` +
  tokenizer + model card + the package's own configuration/modeling/tokenization code, so the folder loads with
  `trust_remote_code=True` where perceiver-hf is not installed.
- `bundle`: the generator of that code (one source of truth: the package's modules, imports rewritten).
- `loading`: the checks `from_pretrained` runs (missing config, other model type, corrupted safetensors,
  device maps that split tied weights).
- `device_map.latent_layer_device_map(config, devices)`: an accelerate device map, one device per latent layer.
"""

from .bundle import BundleError, bundle_modules
from .device_map import latent_layer_device_map
from .export import export_for_hub

__all__ = ["BundleError", "bundle_modules", "export_for_hub", "latent_layer_device_map"]
