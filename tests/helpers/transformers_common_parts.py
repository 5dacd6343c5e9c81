"""The pieces of transformers' common tests that tests/test_transformers_common*.py use, loaded once from the
installed version's sdist (`helpers.transformers_tests`): the mixins, `ConfigTester` and the input helpers."""

from __future__ import annotations

from helpers.transformers_tests import load_common_test_module

modeling_common = load_common_test_module("test_modeling_common")
configuration_common = load_common_test_module("test_configuration_common")
ModelTesterMixin = modeling_common.ModelTesterMixin
# transformers' own where the fetched tests have tests/generation/, else the stand-in (the sdist lacks it)
GenerationTesterMixin = modeling_common.GenerationTesterMixin
ConfigTester = configuration_common.ConfigTester
ids_tensor = modeling_common.ids_tensor
random_attention_mask = modeling_common.random_attention_mask
