#!/usr/bin/env bash
# Retrain perceiver-bytes-small from scratch (run from the repository root). Needs `apt-get install python3-doc`
# and `pip install -e '.[training]'`. One thread: on a shared 2-core machine two threads ran 4x slower.
set -euo pipefail
python scripts/pretrained/prepare_corpus.py --sample-file tests/data/heldout_sample.txt
OMP_NUM_THREADS=1 perceiver-hf train scripts/pretrained/train_config.yaml "$@"
