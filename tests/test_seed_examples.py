"""The perceiver-io library's language-model page (seed page 000_c0dba52e3109ea4d.txt) runs on perceiver_hf.

Both examples are taken verbatim from a copy of the page (tests/data/seed_000_language_model.md); only
their import statements are rewritten from `perceiver.model...` to `perceiver_hf...` (the seed's Lightning
`LitLanguageModel` becomes our `MaskedLanguageModel`, imported under the seed's name). They build
Perceiver IO Base, whose 223,155,456 parameters come from the perceiver-io docs and the paper; building it
on the meta device keeps the test fast.
"""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path

import pytest
import torch

from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM
from perceiver_hf.core import PerceiverIO
from perceiver_hf.text.language import MaskedLanguageModel

SEED_COPY = Path(__file__).parent / "data" / "seed_000_language_model.md"
PERCEIVER_IO_BASE_PARAMETERS = 223_155_456
# sha256 of the perceiver-io page as it was handed to the project (seed 000_c0dba52e3109ea4d.txt)
SEED_SHA256 = "b31e3a9d91abaf3b2fbf2fb054c09d47dd164582404a3f4d1b0a2a3e6660b0cb"

MODULES = {
    "perceiver.model.core": "perceiver_hf.core",
    "perceiver.model.text": "perceiver_hf.text",
    "perceiver.model.text.language": "perceiver_hf.text.language",
}
NAMES = {"LitLanguageModel": "MaskedLanguageModel as LitLanguageModel"}


def _python_block(section: str) -> str:
    """The first ```python block after the heading `## {section}` in the seed copy."""
    text = SEED_COPY.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n.*?```python\n(.*?)```", text, flags=re.S | re.M)
    assert match, f"no python block under '## {section}' in {SEED_COPY}"
    return match.group(1)


def _rewrite_imports(code: str) -> str:
    """Replace each `from perceiver.model... import ...` statement by the perceiver_hf equivalent; nothing else."""
    lines = code.splitlines()
    imports = [node for node in ast.parse(code).body if isinstance(node, ast.ImportFrom)]
    assert imports, "the example has no imports to rewrite"
    for node in reversed(imports):  # bottom-up, so earlier line numbers stay valid
        names = ", ".join(NAMES.get(alias.name, alias.name) for alias in node.names)
        lines[node.lineno - 1 : node.end_lineno] = [f"from {MODULES[node.module]} import {names}"]
    rewritten = "\n".join(lines)
    assert "perceiver.model" not in rewritten
    return rewritten


def _run_on_meta(section: str) -> dict:
    namespace: dict = {}
    with torch.device("meta"):
        exec(compile(_rewrite_imports(_python_block(section)), f"<seed: {section}>", "exec"), namespace)
    return namespace


def _parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # a tied matrix counts once


def test_seed_copy_is_unchanged() -> None:
    assert hashlib.sha256(SEED_COPY.read_bytes()).hexdigest() == SEED_SHA256


@pytest.mark.parametrize("section", ["PyTorch model API", "PyTorch Lightning model API"])
def test_only_import_lines_change(section: str) -> None:
    original = _python_block(section)
    rewritten = _rewrite_imports(original)

    def statements(code: str) -> list[str]:
        return [ast.dump(node) for node in ast.parse(code).body if not isinstance(node, ast.ImportFrom)]

    assert statements(rewritten) == statements(original)
    if section == "PyTorch model API":
        assert rewritten.splitlines()[:3] == [
            "from perceiver_hf.core import PerceiverDecoder, PerceiverEncoder, PerceiverIO",
            "from perceiver_hf.text import TextInputAdapter",
            "from perceiver_hf.text.language import TiedTextOutputAdapter",
        ]


def test_pytorch_model_api_example_builds_perceiver_io_base() -> None:
    namespace = _run_on_meta("PyTorch model API")
    model = namespace["model"]
    assert isinstance(model, PerceiverIO)
    assert _parameter_count(model) == PERCEIVER_IO_BASE_PARAMETERS
    # the output adapter shares the input embedding (weight tying, as the example's comment says)
    assert namespace["output_adapter"].weight is namespace["input_adapter"].text_embedding.weight
    with torch.device("meta"):
        logits = model(torch.zeros(2, 100, dtype=torch.long))
    assert logits.shape == (2, 512, 32000)  # PerceiverIO decodes all 512 output queries by default


def test_lightning_model_api_example_builds_the_same_model() -> None:
    namespace = _run_on_meta("PyTorch Lightning model API")
    lit_model, model = namespace["lit_model"], namespace["model"]
    assert isinstance(lit_model, MaskedLanguageModel)
    assert isinstance(model, PerceiverIO) and model is lit_model.model
    assert _parameter_count(model) == PERCEIVER_IO_BASE_PARAMETERS
    with torch.device("meta"):
        logits = lit_model(torch.zeros(2, 100, dtype=torch.long), torch.ones(2, 100, dtype=torch.long))
    assert logits.shape == (2, 100, 32000)  # the masked LM decodes the input positions


def test_seed_model_has_the_architecture_of_the_perceiver_io_base_preset() -> None:
    """The generic-parts model and PerceiverForMaskedLM(perceiver_io_base()) hold the same arrays."""
    seed_model = _run_on_meta("PyTorch model API")["model"]
    with torch.device("meta"):
        hf_model = PerceiverForMaskedLM(PerceiverConfig.perceiver_io_base())
    seed_shapes = {
        "lm_head.bias" if name == "decoder.output_adapter.bias" else f"perceiver.{name}": tuple(p.shape)
        for name, p in seed_model.named_parameters()  # the tied output weight is listed once, as the embedding
    }
    hf_shapes = {name: tuple(p.shape) for name, p in hf_model.named_parameters()}
    assert seed_shapes == hf_shapes
