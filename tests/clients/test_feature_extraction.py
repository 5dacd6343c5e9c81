"""transformers' `pipeline("feature-extraction")` on a saved folder returns one feature vector per token, as wide
as `config.hidden_size` says (issue 25 item 4).

The tiny config has C = 64 input channels and D = 96 latent channels, so a `hidden_size` that names the latent
width instead of the width of `last_hidden_state` shows here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.memorised_mlm import save_model_folder
from transformers import AutoConfig, pipeline

from perceiver_hf import PerceiverByteTokenizer, PerceiverForMaskedLM, PerceiverModel

TEXT = "Café au lait, s'il vous plaît."  # 30 characters, 32 UTF-8 bytes: one byte token each


@pytest.fixture(scope="module", params=[PerceiverModel, PerceiverForMaskedLM], ids=lambda cls: cls.__name__)
def model_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import make_tiny_config, randomize_

    config = make_tiny_config()
    assert config.num_input_channels != config.num_latent_channels  # the two widths must be told apart
    model = randomize_(request.param(config)).eval()
    return save_model_folder(model, tmp_path_factory.mktemp(request.param.__name__))


def test_feature_extraction_returns_one_hidden_size_vector_per_token(model_folder: Path):
    features = pipeline("feature-extraction", model=str(model_folder))(TEXT, return_tensors=True)  # [1, K, C]
    hidden_size = AutoConfig.from_pretrained(model_folder).hidden_size
    assert tuple(features.shape) == (1, len(TEXT.encode("utf-8")), hidden_size)


def test_feature_extraction_returns_the_backbone_output(model_folder: Path):
    features = pipeline("feature-extraction", model=str(model_folder))(TEXT, return_tensors=True)  # [1, K, C]
    backbone = PerceiverModel.from_pretrained(model_folder).eval()
    inputs = PerceiverByteTokenizer()(TEXT, return_tensors="pt")
    with torch.no_grad():
        expected = backbone(**inputs).last_hidden_state  # [1, K, C]
    torch.testing.assert_close(features, expected)
