"""sentence-transformers builds a sentence encoder on a saved Perceiver folder, sized from what the model declares
(issue 25 item 4): `Transformer` + mean `Pooling` + a `Dense` layer whose input width is the pooling's declared
output width, which sentence-transformers reads from `config.hidden_size`.

The tiny config has C = 64 input channels (the width of `last_hidden_state`) and D = 96 latent channels: a
`hidden_size` naming D makes the `Dense` layer 96 wide on 64-wide inputs ("mat1 and mat2 shapes cannot be
multiplied").
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.memorised_mlm import save_model_folder

from perceiver_hf import PerceiverModel

pytest.importorskip("sentence_transformers.sentence_transformer.modules")  # the module path of version 6
from sentence_transformers import SentenceTransformer  # noqa: E402
from sentence_transformers.sentence_transformer.modules import Dense, Pooling, Transformer  # noqa: E402

SENTENCES = ["The quick brown fox jumps over the lazy dog.", "Perceiver IO reads bytes."]
EMBEDDING_WIDTH = 32


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import make_tiny_config, randomize_

    config = make_tiny_config()
    assert config.num_input_channels != config.num_latent_channels  # the two widths must be told apart
    return save_model_folder(randomize_(PerceiverModel(config)).eval(), tmp_path_factory.mktemp("perceiver-model"))


def test_sentence_encoder_sized_from_the_config_encodes_saves_and_reloads(model_folder: Path, tmp_path: Path):
    torch.manual_seed(0)  # the Dense layer's initialisation
    transformer = Transformer(str(model_folder))
    pooling = Pooling(word_embedding_dimension=transformer.get_word_embedding_dimension())
    dense = Dense(in_features=pooling.get_sentence_embedding_dimension(), out_features=EMBEDDING_WIDTH)
    encoder = SentenceTransformer(modules=[transformer, pooling, dense], device="cpu")

    embeddings = encoder.encode(SENTENCES, convert_to_tensor=True)  # [2, 32]
    assert tuple(embeddings.shape) == (len(SENTENCES), EMBEDDING_WIDTH)
    assert not torch.allclose(embeddings[0], embeddings[1])  # the two sentences are told apart

    encoder.save(str(tmp_path))
    reloaded = SentenceTransformer(str(tmp_path), device="cpu")
    torch.testing.assert_close(reloaded.encode(SENTENCES, convert_to_tensor=True), embeddings)
