#!/usr/bin/env python
"""Convert DeepMind's Haiku checkpoint into a Hub-ready perceiver-hf model folder.

    python conversion/convert_haiku_to_safetensors.py language_perceiver_io_bytes.pickle language-perceiver

Same as `perceiver-hf convert haiku PICKLE OUTPUT_DIR [--config-overrides ...] [--force]`; the work is done by
`perceiver_hf.convert.convert_haiku_checkpoint`.
"""

import sys

from perceiver_hf.cli.convert import haiku_main

if __name__ == "__main__":
    sys.exit(haiku_main())
