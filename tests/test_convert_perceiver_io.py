"""`perceiver-hf convert perceiver-io`: models built and run by the perceiver-io library (0.4.0) itself.

The reference is the library's own forward pass (installed by `make test`; a missing library fails these tests),
on tiny models with random weights: after conversion, perceiver-hf's logits must equal the library's to 1e-5
at every valid position, with padding (the library's `pad_mask`), several self-attention blocks, widened MLPs,
and for both examples of the library's page (tests/data/seed_000_language_model.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers.perceiver_io_library import library_module
from helpers.perceiver_io_models import (
    library_logits,
    lit_language_model,
    randomise,
    save_lightning_checkpoint,
    save_state_dict_and_settings,
)

from perceiver_hf import PerceiverForMaskedLM
from perceiver_hf.cli import main
from perceiver_hf.convert import (
    ConversionError,
    MappingError,
    UnsafePickleError,
    convert_perceiver_io_checkpoint,
    export_perceiver_io_state_dict,
)

TOLERANCE = 1e-5
ENCODER = dict(
    vocab_size=61, max_seq_len=20, num_input_channels=16, num_cross_attention_heads=2, num_self_attention_heads=2,
    num_self_attention_layers_per_block=2,
)  # fmt: skip
DECODER = dict(vocab_size=61, max_seq_len=20, num_cross_attention_heads=2)
SIZES = dict(num_latents=6, num_latent_channels=24)
BIGGER = (
    dict(ENCODER, num_cross_attention_qk_channels=8, num_cross_attention_v_channels=24, cross_attention_widening_factor=2,
         num_self_attention_qk_channels=12, num_self_attention_v_channels=24, num_self_attention_blocks=3,
         self_attention_widening_factor=3),
    dict(DECODER, max_seq_len=32, num_cross_attention_qk_channels=8, num_cross_attention_v_channels=16,
         cross_attention_widening_factor=2),
)  # fmt: skip
"""Unequal q/k and v widths, widened MLPs, 3 applications of a 2-layer block, more decoder queries than positions."""


def _inputs(vocab_size: int, batch: int = 3, length: int = 14, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids [B, L] and the library's pad_mask [B, L] (True = padding; rows padded by 0, 5 and 9 tokens)."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, vocab_size, (batch, length), generator=generator)
    lengths = torch.tensor([length, length - 5, length - 9])[:batch]
    pad_mask = torch.arange(length)[None, :] >= lengths[:, None]
    return input_ids, pad_mask


def _max_error_at_valid_positions(library_model: torch.nn.Module, folder: Path, vocab_size: int) -> float:
    """Max |logits - the library's| at valid positions; padded positions (which the converted model decodes like
    the library, `mask_padded_queries=False`) must agree too."""
    input_ids, pad_mask = _inputs(vocab_size)
    expected = library_logits(library_model, input_ids, pad_mask)  # [B, L, V]
    model = PerceiverForMaskedLM.from_pretrained(folder).eval()
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=(~pad_mask).long()).logits
    assert logits.shape == expected.shape
    assert float(expected[~pad_mask].std()) > 0.1  # logits of a size where a wrong mapping would show
    error = (logits - expected).abs()  # [B, L, V]
    assert float(error[pad_mask].max()) <= TOLERANCE, "padded positions differ"
    return float(error[~pad_mask].max())


@pytest.mark.parametrize("encoder, decoder", [(ENCODER, DECODER), BIGGER], ids=["small", "blocks-widths-widening"])
def test_lightning_checkpoint_converts_to_the_library_logits(tmp_path: Path, encoder: dict, decoder: dict) -> None:
    lit = lit_language_model(encoder, decoder, **SIZES, seed=3)
    checkpoint = save_lightning_checkpoint(lit, tmp_path / "mlm.ckpt")
    folder = convert_perceiver_io_checkpoint(checkpoint, tmp_path / "out", progress=False)
    assert _max_error_at_valid_positions(lit.model, folder, encoder["vocab_size"]) <= TOLERANCE
    config = json.loads((folder / "config.json").read_text())
    assert config["scale_input_embeddings"] is True and config["hidden_act"] == "gelu"
    assert config["decoder_cross_attention_residual"] is True
    assert "perceiver-io 0.4" in (folder / "README.md").read_text()


def test_the_library_semantics_matter(tmp_path: Path) -> None:
    """Each config field the converter sets is needed: with DeepMind's value instead, the logits differ by more
    than ten times the tolerance (the tanh-approximate GELU is the smallest change, ~3e-4 here)."""
    lit = lit_language_model(ENCODER, DECODER, **SIZES, seed=4)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "a.ckpt"), tmp_path / "out", progress=False)
    input_ids, pad_mask = _inputs(ENCODER["vocab_size"])
    expected = library_logits(lit.model, input_ids, pad_mask)
    for field, deepmind_value in [("scale_input_embeddings", False), ("hidden_act", "gelu_pytorch_tanh"),
                                  ("decoder_cross_attention_residual", False), ("mask_padded_queries", True)]:
        model = PerceiverForMaskedLM.from_pretrained(folder, **{field: deepmind_value}).eval()
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=(~pad_mask).long()).logits
        # the query mask only changes padded positions; every other field changes the valid ones
        positions = pad_mask if field == "mask_padded_queries" else ~pad_mask
        assert float((logits - expected).abs()[positions].max()) > 10 * TOLERANCE, field


def test_untied_output_adapter(tmp_path: Path) -> None:
    lit = lit_language_model(ENCODER, dict(DECODER, num_output_query_channels=16), **SIZES, seed=5)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "u.ckpt"), tmp_path / "out", progress=False)
    assert json.loads((folder / "config.json").read_text())["tie_word_embeddings"] is False
    assert _max_error_at_valid_positions(lit.model, folder, ENCODER["vocab_size"]) <= TOLERANCE


def test_state_dict_with_settings_json_and_the_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    lit = lit_language_model(*BIGGER, **SIZES, seed=6)
    settings = {"encoder": BIGGER[0], "decoder": BIGGER[1], **SIZES}
    weights, settings_path = save_state_dict_and_settings(lit.model, settings, tmp_path)
    status = main(["convert", "perceiver-io", str(weights), str(tmp_path / "out"), "--config", str(settings_path), "--quiet"])
    assert status == 0, capsys.readouterr().err
    assert _max_error_at_valid_positions(lit.model, tmp_path / "out", BIGGER[0]["vocab_size"]) <= TOLERANCE
    # without the settings, one clear line naming the option
    assert main(["convert", "perceiver-io", str(weights), str(tmp_path / "out2"), "--quiet"]) == 1
    assert "--config" in capsys.readouterr().err


def test_export_back_loads_into_the_library(tmp_path: Path) -> None:
    lit = lit_language_model(*BIGGER, **SIZES, seed=7)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "b.ckpt"), tmp_path / "out", progress=False)
    state_dict, settings = export_perceiver_io_state_dict(PerceiverForMaskedLM.from_pretrained(folder))
    language = library_module("perceiver.model.text.language")
    core = library_module("perceiver.model.core")
    rebuilt = language.LanguageModel(core.PerceiverConfig(
        encoder=language.TextEncoderConfig(**settings["encoder"]), decoder=language.TextDecoderConfig(**settings["decoder"]),
        num_latents=settings["num_latents"], num_latent_channels=settings["num_latent_channels"],
    )).eval()  # fmt: skip
    rebuilt.load_state_dict(state_dict, strict=True)
    input_ids, pad_mask = _inputs(BIGGER[0]["vocab_size"])
    error = (library_logits(rebuilt, input_ids, pad_mask) - library_logits(lit.model, input_ids, pad_mask)).abs()
    assert float(error[~pad_mask].max()) <= TOLERANCE


LIBRARY_ONLY = ("num_cross_attention_layers", "first_cross_attention_layer_shared", "first_self_attention_block_shared",
                "freeze", "num_output_query_channels")  # fmt: skip
"""Library options perceiver-hf's text API does not have (the converter checks their values)."""


def _text_api_logits(settings: dict, folder: Path, input_ids: torch.Tensor, pad_mask: torch.Tensor) -> torch.Tensor:
    """perceiver-hf's own text API (`MaskedLanguageModel(TextEncoderConfig, TextDecoderConfig)`) built from the
    library's settings plus the library's semantics, with the converted folder's weights -> logits [B, L, V]."""
    from safetensors.torch import load_file

    from perceiver_hf.text.language import MaskedLanguageModel, TextDecoderConfig, TextEncoderConfig

    encoder = {k: v for k, v in settings["encoder"].items() if k not in LIBRARY_ONLY}
    decoder = {k: v for k, v in settings["decoder"].items() if k not in LIBRARY_ONLY}
    # the one default that differs: the library's unset encoder cross-attention q/k width is D, ours C
    encoder["num_cross_attention_qk_channels"] = encoder.get("num_cross_attention_qk_channels") or settings["num_latent_channels"]
    model = MaskedLanguageModel(
        TextEncoderConfig(**encoder, scale_input_embeddings=True, activation="gelu"),
        TextDecoderConfig(**decoder, cross_attention_residual=True, activation="gelu"),
        settings["num_latents"], settings["num_latent_channels"],
    ).eval()  # fmt: skip
    weights = load_file(folder / "model.safetensors")
    state = {"model." + name.removeprefix("perceiver."): value for name, value in weights.items() if name != "lm_head.bias"}
    state["model.decoder.output_adapter.bias"] = weights["lm_head.bias"]
    state["model.decoder.output_adapter.weight"] = weights["perceiver.encoder.input_adapter.text_embedding.weight"]
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        return model(input_ids, (~pad_mask).long())


def test_the_text_api_with_the_library_semantics_computes_the_same(tmp_path: Path) -> None:
    """The route config -> specs -> modules of the text API (not only PerceiverConfig) expresses the library."""
    lit = lit_language_model(ENCODER, DECODER, **SIZES, seed=13)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "t.ckpt"), tmp_path / "out", progress=False)
    input_ids, pad_mask = _inputs(ENCODER["vocab_size"])
    settings = {"encoder": ENCODER, "decoder": DECODER, **SIZES}
    error = (_text_api_logits(settings, folder, input_ids, pad_mask) - library_logits(lit.model, input_ids, pad_mask)).abs()
    assert float(error[~pad_mask].max()) <= TOLERANCE


# ---- the two examples of the library's page, built by the library itself (Perceiver IO Base, 223M parameters)

def _seed_block(section: str) -> str:
    from test_seed_examples import _python_block

    return _python_block(section)


def test_seed_examples_convert_to_the_library_logits(tmp_path: Path) -> None:
    library_module("perceiver.model.text.language")  # the stand-ins on sys.path, the library importable
    api: dict[str, Any] = {}
    exec(compile(_seed_block("PyTorch model API"), "<seed: PyTorch model API>", "exec"), api)
    lightning: dict[str, Any] = {}
    exec(compile(_seed_block("PyTorch Lightning model API"), "<seed: Lightning model API>", "exec"), lightning)
    model, lit_model = api["model"].eval(), lightning["lit_model"].eval()
    randomise(model, seed=8)
    randomise(lit_model, seed=9)
    # the PyTorch-API model as a state dict + the Lightning example's own configs as settings JSON
    settings = {
        "encoder": vars(lightning["encoder_config"]), "decoder": vars(lightning["decoder_config"]),
        "num_latents": lightning["num_latents"], "num_latent_channels": lightning["num_latent_channels"],
    }  # fmt: skip
    weights, settings_path = save_state_dict_and_settings(model, settings, tmp_path)
    api_folder = convert_perceiver_io_checkpoint(weights, tmp_path / "api", settings_json=settings_path, progress=False)
    del api
    assert _max_error_at_valid_positions(model, api_folder, 32000) <= TOLERANCE
    del model
    checkpoint = save_lightning_checkpoint(lit_model, tmp_path / "lit.ckpt")
    lit_folder = convert_perceiver_io_checkpoint(checkpoint, tmp_path / "lit", progress=False)
    assert _max_error_at_valid_positions(lit_model.model, lit_folder, 32000) <= TOLERANCE
    # and the example's configs through perceiver-hf's own TextEncoderConfig/TextDecoderConfig API
    input_ids, pad_mask = _inputs(32000)
    ours = _text_api_logits(settings, lit_folder, input_ids, pad_mask)
    error = (ours - library_logits(lit_model.model, input_ids, pad_mask)).abs()
    assert float(error[~pad_mask].max()) <= TOLERANCE


# ---- bad input: one clear message naming what was found and what is supported

def test_image_classifier_is_refused_naming_it(tmp_path: Path) -> None:
    image = library_module("perceiver.model.image.classifier")
    core = library_module("perceiver.model.core")
    hyper = {"encoder": image.ImageEncoderConfig(image_shape=(8, 8, 1)), "decoder": core.ClassificationDecoderConfig(),
             "num_latents": 4, "num_latent_channels": 8}  # fmt: skip
    torch.save({"state_dict": {"model.0.latent": torch.zeros(4, 8)}, "hyper_parameters": hyper}, tmp_path / "img.ckpt")
    with pytest.raises(ConversionError, match=r"image classifier.*supported: perceiver-io 0.4 text models"):
        convert_perceiver_io_checkpoint(tmp_path / "img.ckpt", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_code_in_the_checkpoint_is_never_run(tmp_path: Path) -> None:
    from helpers.conversion import RunsOnLoad

    marker = tmp_path / "ran"
    payload = {"state_dict": {}, "hyper_parameters": RunsOnLoad(marker.touch)}
    torch.save(payload, tmp_path / "evil.ckpt")
    with pytest.raises(UnsafePickleError, match="nothing from the file was run"):
        convert_perceiver_io_checkpoint(tmp_path / "evil.ckpt", tmp_path / "out", progress=False)
    assert not marker.exists()


def test_missing_and_misshaped_weights_are_listed(tmp_path: Path) -> None:
    lit = lit_language_model(ENCODER, DECODER, **SIZES, seed=10)
    state_dict = lit.state_dict()
    del state_dict["model.0.self_attn_1.1.1.module.3.bias"], state_dict["model.0.self_attn_n.1.1.module.3.bias"]
    torch.save({"state_dict": state_dict, "hyper_parameters": dict(lit.hparams)}, tmp_path / "m.ckpt")
    with pytest.raises(MappingError, match=r"missing(.|\n)*0\.self_attn_1\.1\.1\.module\.3\.bias"):
        convert_perceiver_io_checkpoint(tmp_path / "m.ckpt", tmp_path / "out", progress=False)
    wrong = dict(lit.hparams, num_latent_channels=32)
    torch.save({"state_dict": lit.state_dict(), "hyper_parameters": wrong}, tmp_path / "s.ckpt")
    with pytest.raises(MappingError, match=r"mis-shaped(.|\n)*perceiver\.encoder\.latent_provider\.query \[6, 32\]"):
        convert_perceiver_io_checkpoint(tmp_path / "s.ckpt", tmp_path / "out", progress=False)


def test_other_key_names_are_refused(tmp_path: Path) -> None:
    """A later library version (other module names) is named as such, with what is supported."""
    lit = lit_language_model(ENCODER, DECODER, **SIZES, seed=11)
    renamed = {name.replace("model.0.", "model.encoder."): value for name, value in lit.state_dict().items()}
    torch.save({"state_dict": renamed, "hyper_parameters": dict(lit.hparams)}, tmp_path / "v.ckpt")
    with pytest.raises(ConversionError, match=r"later library version.*Supported: perceiver-io 0.4 text models"):
        convert_perceiver_io_checkpoint(tmp_path / "v.ckpt", tmp_path / "out", progress=False)


ENCODER_OPTIONS = {
    "two-unshared-cross-unshared-blocks": dict(num_self_attention_blocks=3, num_cross_attention_layers=2,
                                               first_cross_attention_layer_shared=False,
                                               first_self_attention_block_shared=False),
    "three-shared-cross": dict(num_self_attention_blocks=3, num_cross_attention_layers=3,
                               first_cross_attention_layer_shared=True),
    "unshared-blocks-only": dict(num_self_attention_blocks=2, first_self_attention_block_shared=False),
}  # fmt: skip
"""The library's encoder options for repeated cross-attention and unshared first weights."""


@pytest.mark.parametrize("options", list(ENCODER_OPTIONS.values()), ids=list(ENCODER_OPTIONS))
def test_repeated_cross_attention_and_unshared_blocks_convert(tmp_path: Path, options: dict) -> None:
    """The library's repeated / unshared encoder modules become perceiver-hf's: logits equal, and the converted
    model has exactly as many parameters as the library's (its shared modules counted once)."""
    lit = lit_language_model(dict(ENCODER, **options), DECODER, **SIZES, seed=12)
    folder = convert_perceiver_io_checkpoint(save_lightning_checkpoint(lit, tmp_path / "x.ckpt"), tmp_path / "out", progress=False)
    assert _max_error_at_valid_positions(lit.model, folder, ENCODER["vocab_size"]) <= TOLERANCE
    config = json.loads((folder / "config.json").read_text())
    assert {name: config[name] for name in options} == options
    model = PerceiverForMaskedLM.from_pretrained(folder)
    ours = sum(parameter.numel() for parameter in model.perceiver.encoder.parameters())
    theirs = sum(parameter.numel() for parameter in lit.model.encoder.parameters())  # parameters() counts a shared one once
    assert ours == theirs


def test_unshared_settings_for_a_shared_checkpoint_are_refused(tmp_path: Path) -> None:
    """Settings that say "unshared" for weights the checkpoint shares leave arrays missing: all named."""
    lit = lit_language_model(dict(ENCODER, num_self_attention_blocks=2), DECODER, **SIZES, seed=13)
    settings = {"encoder": dict(ENCODER, num_self_attention_blocks=2, first_self_attention_block_shared=False),
                "decoder": DECODER, **SIZES}  # fmt: skip
    state = {name: value for name, value in lit.model.state_dict().items() if not name.startswith("0.self_attn_n.")}
    weights, settings_path = save_state_dict_and_settings(lit.model, settings, tmp_path)
    torch.save(state, weights)
    with pytest.raises(MappingError, match=r"later_self_attention\.layers\.0.*<- 0\.self_attn_n\.0"):
        convert_perceiver_io_checkpoint(weights, tmp_path / "out", settings_json=settings_path, progress=False)


def test_more_cross_attention_layers_than_blocks_are_refused(tmp_path: Path) -> None:
    lit = lit_language_model(ENCODER, DECODER, **SIZES, seed=14)
    settings = {"encoder": dict(ENCODER, num_cross_attention_layers=2), "decoder": DECODER, **SIZES}
    weights, settings_path = save_state_dict_and_settings(lit.model, settings, tmp_path)
    with pytest.raises(ConversionError, match=r"1 <= num_cross_attention_layers <= num_self_attention_blocks"):
        convert_perceiver_io_checkpoint(weights, tmp_path / "out", settings_json=settings_path, progress=False)


def test_a_missing_library_fails_with_the_install_command() -> None:
    """The reference is never silently absent: an unimportable library module raises (a test error, not a skip)."""
    with pytest.raises(RuntimeError, match=r"pip install --no-deps perceiver-io==0\.4\.0"):
        library_module("perceiver.model.no_such_module")


def test_export_refuses_a_model_the_library_cannot_compute() -> None:
    from conftest import make_tiny_model

    with pytest.raises(ConversionError, match="scale_input_embeddings"):
        export_perceiver_io_state_dict(make_tiny_model(seed=1))  # DeepMind's semantics
