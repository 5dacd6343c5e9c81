#!/usr/bin/env bash
# Retrain perceiver-bytes-small from scratch (run from the repository root). Needs `apt-get install python3-doc`
# and `pip install -e '.[training]'`. Two threads (both cores of the 2-core machine it was trained on, kept free of
# other work: a second busy process on the same cores slows each step several times).
set -euo pipefail
python scripts/pretrained/prepare_corpus.py --sample-file tests/data/heldout_sample.txt
OMP_NUM_THREADS=2 perceiver-hf train scripts/pretrained/train_config.yaml "$@"
