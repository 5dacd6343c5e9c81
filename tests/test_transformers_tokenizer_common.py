"""transformers' own tokenizer tests (`TokenizerTesterMixin`, `TokenizersBackendTesterMixin`) on PerceiverByteTokenizer.

The test files come from the installed transformers version's sdist (`scripts/fetch_transformers_tests.py`, run
by `make test`). The mixins load their tokenizer from `from_pretrained_id`: here a folder holding a fresh
`PerceiverByteTokenizer()` saved at import time (no Hub access).
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from helpers.transformers_tests import load_common_test_module
from perceiver_hf.tokenization_perceiver import PerceiverByteTokenizer

tokenization_common = load_common_test_module("test_tokenization_common")
backend_common = load_common_test_module("test_tokenizers_backend_mixin")
# The mixin's setUpClass reads `get_tests_dir()/fixtures/sample_text.txt`, which the sdist does not ship (and no
# test of the mixin uses its text): point it at a small sample text of this repository.
SAMPLE_TEXT_ROOT = Path(__file__).resolve().parent / "fixtures" / "transformers-tokenizer-tests"
tokenization_common.get_tests_dir = lambda append_path=None: str(SAMPLE_TEXT_ROOT / (append_path or ""))

SAVED_TOKENIZER = tempfile.mkdtemp(prefix="perceiver-byte-tokenizer-")
PerceiverByteTokenizer().save_pretrained(SAVED_TOKENIZER)


class PerceiverByteTokenizerCommonTest(tokenization_common.TokenizerTesterMixin, unittest.TestCase):
    tokenizer_class = PerceiverByteTokenizer
    from_pretrained_id = SAVED_TOKENIZER


class PerceiverByteTokenizerBackendTest(backend_common.TokenizersBackendTesterMixin, unittest.TestCase):
    tokenizer_class = PerceiverByteTokenizer
    rust_tokenizer_class = PerceiverByteTokenizer
    from_pretrained_id = SAVED_TOKENIZER
    from_pretrained_kwargs = {}
