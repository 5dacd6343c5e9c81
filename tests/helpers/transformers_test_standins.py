"""Stand-ins for the three transformers test modules that the transformers sdist does not ship.

The sdist's `tests/` folder has the top-level `test_*_common.py` files but not their subfolders, and two of those
files import from them:

- `test_modeling_common.py`: `from .exporters.test_export import ExportTesterMixin` (the base class of
  `ModelTesterMixin`: torch.export / ONNX / OpenVINO / ExecuTorch export tests) and
  `from .generation.test_utils import GenerationTesterMixin` (used only in an `issubclass` check that a model
  which cannot `generate` must not inherit it);
- `test_configuration_common.py`: `from .utils.test_configuration_utils import config_common_kwargs`.

`tests/helpers/transformers_tests.py` registers these stand-ins only where the fetched folder lacks the real
module. Consequence: the export tests of `ExportTesterMixin` do not run here (this project tests its own ONNX
export in tests/test_onnx_export.py); no generation test is lost (the Perceiver classes cannot generate).
"""

from __future__ import annotations

from typing import Any


class ExportTesterMixin:
    """Empty base for `ModelTesterMixin`: the real export test mixin is not in the transformers sdist."""


class GenerationTesterMixin:
    """Marker class: `ModelTesterMixin` checks that testers of non-generating models do not inherit it."""


# `PreTrainedConfig` attributes every config accepts, each set to a non-default value, for
# `ConfigTester.check_config_arguments_init` (a config must keep what its caller passed).
config_common_kwargs: dict[str, Any] = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["BertModel"],
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
    "problem_type": "regression",
}

# relative module path inside transformers' tests package -> {attribute name: stand-in}
STANDINS: dict[str, dict[str, Any]] = {
    "exporters.test_export": {"ExportTesterMixin": ExportTesterMixin},
    "generation.test_utils": {"GenerationTesterMixin": GenerationTesterMixin},
    "utils.test_configuration_utils": {"config_common_kwargs": config_common_kwargs},
}
