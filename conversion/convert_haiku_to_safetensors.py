#!/usr/bin/env python
"""Convert DeepMind's Haiku checkpoint into a Hub-ready perceiver-hf model folder.

    python conversion/convert_haiku_to_safetensors.py language_perceiver_io_bytes.pickle language-perceiver

A thin alias of `perceiver-hf convert haiku PICKLE OUTPUT_DIR [--config-overrides ...] [--force]`, which is the
documented entry point: the same parser (`perceiver_hf.cli.convert.haiku_main`), options, messages and exit
codes, for those who run a script from a checkout. It adds nothing of its own.
"""

import sys

from perceiver_hf.cli.convert import haiku_main

if __name__ == "__main__":
    sys.exit(haiku_main())
