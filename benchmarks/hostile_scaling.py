"""How the perceiver-io converter's cost grows on crafted checkpoints: it should follow the file's size, never the
sizes the file claims.

    python benchmarks/hostile_scaling.py            # every family, four sizes each
    python benchmarks/hostile_scaling.py --family shared-depth

Each family is a perceiver-io 0.4 `.ckpt` (`torch.save` of {"state_dict", "hyper_parameters"}) that grows in one
direction, and each is refused by `convert_perceiver_io_checkpoint`; the table gives the file's size, the time to
the refusal, and the peak of Python's heap during a second run (`tracemalloc`: settings, label names, copies;
torch's own tensor memory is not in it, but no family makes the converter allocate tensors beyond the file's):

    shared-depth   settings nesting k levels, each holding the level below twice (2**k paths, k+1 dicts)
    shared-width   one settings dict holding n references to one 100-entry dict (100*n values once expanded)
    stride-0       two n x n stride-0 views of one float where the settings say the weights are shared copies
    num-classes    a text classifier whose settings say n classes beside a 3-row output layer
    many-tensors   a state dict of n small tensors (file size grows with n)

Measured 2026-12-07 (2 shared cores, load 3.8), this version: every shared-depth, stride-0 and num-classes file
(6-7 KiB) refused in 1-5 ms with a 0.03-0.04 MiB heap peak whatever k or n it claims; shared-width 1,000 / 10,000
(22 / 172 KiB) in 0.008 / 0.11 s, 0.21 / 1.49 MiB; many-tensors 1,000 / 4,000 / 16,000 / 32,000 (0.3 / 1.2 / 4.7 /
9.5 MiB) in 0.07 / 0.71 / 1.2 / 3.7 s (all but a few ms in torch.load), 1.7 / 5.2 / 21.7 / 44.1 MiB: linear.
The code before (same machine, peak RSS growth): shared-depth 16 / 20 took 0.56 / 6.8 s and +24 / +362 MiB
(doubling per level: 40 levels grew past 2.6 GB), stride-0 10,000 / 30,000 compared for 0.10 / 0.61 s (10**6:
10**12 elements), num-classes 10**6 / 4*10**6 took 3.9 / 19.9 s and up to +654 MiB of label names (10**9: 5.7 GB).
Self-referencing or deeply nested settings raised RecursionError. Not a test: the numbers depend on the machine;
read how time and memory move with the file size, not their values.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import torch

from perceiver_hf.convert import ConversionError, convert_perceiver_io_checkpoint

ENCODER = dict(vocab_size=61, max_seq_len=20, num_input_channels=16, num_cross_attention_heads=2,
               num_self_attention_heads=2, num_self_attention_layers_per_block=2)  # fmt: skip
DECODER = dict(vocab_size=61, max_seq_len=20, num_cross_attention_heads=2)
EMBEDDING = "model.0.input_adapter.text_embedding.weight"


def _settings(**decoder: Any) -> dict[str, Any]:
    return {"encoder": dict(ENCODER), "decoder": {**DECODER, **decoder}, "num_latents": 6, "num_latent_channels": 24}


def _save(path: Path, settings: dict[str, Any], state: dict[str, torch.Tensor] | None = None) -> Path:
    state = state if state is not None else {EMBEDDING: torch.zeros(61, 16)}
    torch.save({"state_dict": state, "hyper_parameters": settings}, path)
    return path


def shared_depth(path: Path, k: int) -> Path:
    level: Any = {"leaf": 1}
    for _ in range(k):
        level = {"a": level, "b": level}
    settings = _settings()
    settings["encoder"]["shared"] = level
    return _save(path, settings)


def shared_width(path: Path, n: int) -> Path:
    leaf = {f"v{i}": i for i in range(100)}
    settings = _settings()
    settings["encoder"]["shared"] = {f"k{i}": leaf for i in range(n)}
    return _save(path, settings)


def stride_0(path: Path, n: int) -> Path:
    huge = torch.zeros(1).expand(n, n)
    state = {EMBEDDING: torch.zeros(61, 16), "model.0.cross_attn_1.0.module.q_norm.weight": huge,
             "model.0.cross_attn_n.0.module.q_norm.weight": huge}  # fmt: skip
    return _save(path, _settings(), state)


def num_classes(path: Path, n: int) -> Path:
    settings = _settings()
    settings["decoder"] = {"num_classes": n, "num_output_query_channels": 8, "num_cross_attention_heads": 2}
    state = {EMBEDDING: torch.zeros(61, 16), "model.1.output_adapter.linear.weight": torch.zeros(3, 8)}
    return _save(path, settings, state)


def many_tensors(path: Path, n: int) -> Path:
    state = {EMBEDDING: torch.zeros(61, 16), **{f"model.extra.{i}": torch.zeros(4) for i in range(n)}}
    return _save(path, _settings(), state)


FAMILIES: dict[str, tuple[Callable[[Path, int], Path], list[int]]] = {
    "shared-depth": (shared_depth, [10, 20, 40, 80]),
    "shared-width": (shared_width, [10, 100, 1_000, 10_000]),
    "stride-0": (stride_0, [10**3, 10**4, 10**5, 10**6]),
    "num-classes": (num_classes, [10**3, 10**5, 10**7, 10**9]),
    "many-tensors": (many_tensors, [1_000, 4_000, 16_000, 32_000]),
}


def _refusal(path: Path, output: Path) -> str:
    try:
        convert_perceiver_io_checkpoint(path, output, progress=False)
        return "converted"
    except ConversionError as error:
        return str(error).splitlines()[0].split(": ", 1)[-1][:60]


def measure(folder: Path, family: str, n: int) -> tuple[int, float, float, str]:
    """(file bytes, seconds to the converter's answer, peak Python heap MiB in a second run, the answer)."""
    make, _ = FAMILIES[family]
    path = make(folder / f"{family}-{n}.ckpt", n)
    start = time.perf_counter()
    answer = _refusal(path, folder / f"out-{family}-{n}")
    seconds = time.perf_counter() - start
    tracemalloc.start()  # slows Python down several times: a run of its own
    _refusal(path, folder / f"out-{family}-{n}")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return path.stat().st_size, seconds, peak / 2**20, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=sorted(FAMILIES), action="append")
    args = parser.parse_args()
    print("| family | n | file KiB | refused in s | peak heap MiB | answer |")
    print("|---|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        measure(Path(folder), "many-tensors", 10)  # warm-up: first-call imports are not the input's cost
        for family in args.family or FAMILIES:
            for n in FAMILIES[family][1]:
                size, seconds, peak, answer = measure(Path(folder), family, n)
                print(f"| {family} | {n:,} | {size / 1024:,.1f} | {seconds:.3f} | {peak:.2f} | {answer} |")


if __name__ == "__main__":
    main()
