"""How reading a Haiku pickle scales with the number of names: time per key should stay flat (linear cost).

    python benchmarks/convert_scaling.py            # 2,500 .. 20,000 keys, doubling
    python benchmarks/convert_scaling.py --max-keys 40000

Each size is a synthetic pickle of N module names under `perceiver_encoder/~/self_attention_<i>`, all sharing
one tiny array (the shape of the hostile pickle that hung the converter), read by `load_haiku_params` and
counted by `count_self_attention_layers`, then converted (which refuses it: no embedding, no decoder). The
full-size checkpoint (DeepMind's 457 arrays, 767 MiB) is benchmarks/convert_full_size.py. Not a test: the
numbers depend on the machine; the ratio column (time per key relative to the smallest size) is what to read.

Measured 2026-12-02 (2 shared cores): 2,500 / 5,000 / 10,000 / 20,000 keys read and counted in 0.04 / 0.06 /
0.09 / 0.26 s (12.8 us per key at 20,000, ratio 0.84: linear), refused by the converter in 0.2 / 0.6 / 1.6 /
2.6 s; before, 20,000 keys hung for more than 90 s (8,000 names: 67 s in the quadratic layer count).
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

from perceiver_hf.convert import ConversionError, convert_haiku_checkpoint
from perceiver_hf.convert.haiku import load_haiku_params
from perceiver_hf.convert.haiku_mapping import HAIKU_LAYOUT


def write_many_keys(path: Path, num_keys: int) -> Path:
    shared = np.ones(2, np.float32)
    params = {f"perceiver_encoder/~/self_attention_{i}/~/mlp/linear": {"w": shared} for i in range(num_keys)}
    path.write_bytes(pickle.dumps(params, protocol=4))
    return path


def measure(folder: Path, num_keys: int) -> tuple[int, float, float]:
    """(pickle bytes, seconds to read and count, seconds to the converter's refusal)."""
    path = write_many_keys(folder / f"keys-{num_keys}.pickle", num_keys)
    start = time.perf_counter()
    names, _ = load_haiku_params(path, progress=False)
    assert HAIKU_LAYOUT.count_self_attention_layers(names) == num_keys
    read = time.perf_counter() - start
    start = time.perf_counter()
    try:
        convert_haiku_checkpoint(path, folder / f"out-{num_keys}", progress=False)
    except ConversionError:
        pass
    return path.stat().st_size, read, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-keys", type=int, default=20000)
    args = parser.parse_args()
    sizes = []
    n = 2500
    while n <= args.max_keys:
        sizes.append(n)
        n *= 2
    print("| keys | pickle KiB | read + count s | convert (refused) s | us per key (read) | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        base = None
        for num_keys in sizes:
            size, read, convert = measure(Path(folder), num_keys)
            per_key = read / num_keys * 1e6
            base = base or per_key
            print(f"| {num_keys:,} | {size / 1024:,.0f} | {read:.3f} | {convert:.3f} | {per_key:.1f} | {per_key / base:.2f} |")


if __name__ == "__main__":
    main()
