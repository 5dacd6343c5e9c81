"""Tiny perceiver-io library (0.4) models with random weights, saved as its users save them.

`lit_language_model` builds the library's own `LitLanguageModel` (through `helpers.perceiver_io_library`), with
every parameter random (LayerNorm scales and all biases too, so that a mapping that swaps or drops any of
them shows in the logits). `save_lightning_checkpoint` writes what Lightning's `Trainer.save_checkpoint` stores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import torch

from helpers.perceiver_io_library import library_module


def randomise(module: torch.nn.Module, seed: int) -> None:
    """Fill every parameter with noise that keeps activations near unit size at any width and depth (so float32
    rounding stays far below the tolerance): matrices [out, in] N(0, 1/in), biases N(0, 0.2^2), LayerNorm scales
    1 + N(0, 0.2^2). Tied parameters stay tied."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if parameter.dim() == 2:
                parameter.copy_(noise / parameter.shape[1] ** 0.5)
            else:
                is_scale = name.endswith("weight")
                parameter.copy_(1.0 + 0.2 * noise if is_scale else 0.2 * noise)


def _lit_model(
    module: str, names: tuple[str, str], encoder: dict[str, Any], decoder: dict[str, Any], num_latents: int,
    num_latent_channels: int, seed: int,
) -> Any:
    """The library's Lightning model `names[0]` of `module`, with `TextEncoderConfig(**encoder)` and
    `names[1](**decoder)`, every parameter random."""
    library = library_module(module)
    lit_class, decoder_class = (getattr(library, name) for name in names)
    model = lit_class(
        library.TextEncoderConfig(**encoder), decoder_class(**decoder),
        num_latents=num_latents, num_latent_channels=num_latent_channels,
    )  # fmt: skip
    randomise(model, seed)
    return model.eval()


def lit_language_model(
    encoder: dict[str, Any], decoder: dict[str, Any], num_latents: int, num_latent_channels: int, seed: int = 0
) -> Any:
    """The library's `LitLanguageModel(TextEncoderConfig(**encoder), TextDecoderConfig(**decoder), ...)`, random."""
    names = ("LitLanguageModel", "TextDecoderConfig")
    return _lit_model("perceiver.model.text.language", names, encoder, decoder, num_latents, num_latent_channels, seed)


def lit_text_classifier(
    encoder: dict[str, Any], decoder: dict[str, Any], num_latents: int, num_latent_channels: int, seed: int = 0
) -> Any:
    """The library's `LitTextClassifier(TextEncoderConfig(**encoder), ClassificationDecoderConfig(**decoder),
    ...)`, random."""
    names = ("LitTextClassifier", "ClassificationDecoderConfig")
    return _lit_model("perceiver.model.text.classifier", names, encoder, decoder, num_latents, num_latent_channels, seed)


def save_lightning_checkpoint(lit_model: Any, path: Path, extra: Optional[dict[str, Any]] = None) -> Path:
    """What Lightning 1.x stores in a .ckpt: the state dict, `dict(hparams)` and the trainer's bookkeeping."""
    checkpoint = {
        "epoch": 3,
        "global_step": 1200,
        "pytorch-lightning_version": "1.6.5",
        "state_dict": lit_model.state_dict(),
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4, "completed": 3}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(2.5)}},
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-3, "params": [0, 1]}]}],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": dict(lit_model.hparams),
        **(extra or {}),
    }
    torch.save(checkpoint, path)
    return path


def save_state_dict_and_settings(
    model: torch.nn.Module, settings: dict[str, Any], folder: Path
) -> tuple[Path, Path]:
    """`torch.save(model.state_dict())` and the settings JSON beside it; returns both paths."""
    weights, settings_path = folder / "language_model.pt", folder / "settings.json"
    torch.save(model.state_dict(), weights)
    settings_path.write_text(json.dumps(settings), encoding="utf-8")
    return weights, settings_path


def library_logits(model: torch.nn.Module, input_ids: torch.Tensor, pad_mask: Optional[torch.Tensor]) -> torch.Tensor:
    """The library's `LanguageModel` forward (`pad_mask` True = padding) on `input_ids` [B, L] -> [B, L, V]."""
    with torch.no_grad():
        logits = model(input_ids, pad_mask)
        return logits if logits.shape[1] == input_ids.shape[1] else logits[:, : input_ids.shape[1]]
