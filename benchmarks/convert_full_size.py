"""Time and peak memory of converting a full-size (767 MiB) Haiku checkpoint, on demand.

    python benchmarks/convert_full_size.py                   # synthetic checkpoint in a temporary folder
    python benchmarks/convert_full_size.py --workdir DIR     # keep (and reuse) DIR/synthetic.pickle

The real `language_perceiver_io_bytes.pickle` cannot be downloaded here, so a synthetic one is built from
tests/fixtures/language-perceiver-param-spec.json: the same 457 arrays (names, shapes, float32), random
values, pickled the 2021 way (nested `haiku._src.data_structures.FlatMapping` and
`numpy.core.multiarray._reconstruct` globals, protocol 3), like the fixture params-legacy.pickle.

`perceiver-hf convert haiku` then runs in a fresh Python; its wall time and peak RSS (the child's VmHWM, the
kernel's high-water mark of its resident memory) are reported against the checkpoint size (target: peak RSS
<= 2.5x), with the peak RSS of a Python that only imports the converter (the fixed cost of torch and
transformers). Finally a few converted tensors are compared with the pickle's arrays.

Measured (2 shared CPU cores, load average ~9, 2026-11): 767.2 MiB checkpoint, 31-33 s wall (9.6 s CPU),
peak RSS 1170 MiB = 1.52x the checkpoint; imports alone 386 MiB, so the conversion itself adds 1.02x.
Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

MIB = 2**20
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC = REPO_ROOT / "tests" / "fixtures" / "language-perceiver-param-spec.json"
TARGET_RATIO = 2.5


@contextmanager
def legacy_globals() -> Iterator[type]:
    """While active, pickle under 2021 names: yields a FlatMapping(dict) class of `haiku._src.data_structures`,
    and numpy arrays are written with `numpy.core.multiarray._reconstruct` (stand-in modules, removed after)."""

    class FlatMapping(dict):
        def __reduce__(self) -> tuple:
            return FlatMapping, (dict(self),)

    def _reconstruct(*args: Any) -> None:  # never called: only its pickled name matters
        raise AssertionError

    stand_ins = {
        "haiku": {},
        "haiku._src": {},
        "haiku._src.data_structures": {"FlatMapping": FlatMapping},
        "numpy.core.multiarray": {"_reconstruct": _reconstruct},
    }
    saved = {name: sys.modules.get(name) for name in stand_ins}
    for name, attributes in stand_ins.items():
        module = types.ModuleType(name)
        for attribute, value in attributes.items():
            value.__module__, value.__qualname__ = name, attribute
            setattr(module, attribute, value)
        sys.modules[name] = module
    try:
        yield FlatMapping
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class LegacyPickler(pickle.Pickler):
    """Writes numpy arrays as numpy 1.x did: `numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')` + state."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is np.ndarray:
            _, args, state = obj.__reduce__()
            return sys.modules["numpy.core.multiarray"]._reconstruct, args, state
        return NotImplemented


def write_synthetic_checkpoint(spec_path: Path, path: Path, seed: int = 0) -> int:
    """Write the param spec's arrays (random float32) as a 2021-style Haiku pickle; return the file size."""
    spec = json.loads(spec_path.read_text())
    rng = np.random.default_rng(seed)
    with legacy_globals() as FlatMapping:
        modules: dict[str, dict[str, np.ndarray]] = {}
        for param in spec["parameters"]:
            array = rng.standard_normal(param["shape"], dtype=np.float32) * 0.02
            modules.setdefault(param["module"], {})[param["param"]] = array
        params = FlatMapping({module: FlatMapping(group) for module, group in modules.items()})
        with open(path, "wb") as file:
            LegacyPickler(file, protocol=3).dump(params)
    return path.stat().st_size


CHILD = """
import sys
if sys.argv[1:]:
    from perceiver_hf.cli import main
    status = main(["convert", "haiku", *sys.argv[1:], "--quiet"])
else:
    import perceiver_hf.cli.convert, perceiver_hf.convert
    status = 0
with open("/proc/self/status") as status_file:
    peak = next(int(line.split()[1]) * 1024 for line in status_file if line.startswith("VmHWM:"))
print(peak)
sys.exit(status)
"""


def run_measured(*args: str) -> tuple[float, int]:
    """Run the converter on `args` (or only its imports) in a fresh Python; return (wall seconds, peak RSS bytes).

    The peak is the child's own VmHWM, read at its end: ru_maxrss would also count the parent's resident
    memory inherited through fork.
    """
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, *args], env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"conversion failed with status {completed.returncode}:\n{completed.stderr[-3000:]}")
    return seconds, int(completed.stdout.split()[-1])


def spot_check(pickle_path: Path, folder: Path, names: list[tuple[str, str, bool]]) -> bool:
    """Compare some converted tensors with the pickle's arrays (read with the converter's safe loader)."""
    from safetensors import safe_open

    from perceiver_hf.convert import load_haiku_params

    params, _ = load_haiku_params(pickle_path, progress=False)
    with safe_open(folder / "model.safetensors", "np") as weights:
        ok = len(list(weights.keys())) == 457
        for ours, theirs, transpose in names:
            expected = params[theirs].T if transpose else params[theirs]
            ok = ok and np.array_equal(weights.get_tensor(ours), expected)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="language-perceiver-param-spec.json")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the synthetic pickle here (reused)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        pickle_path = workdir / "synthetic.pickle"
        if not pickle_path.exists():
            start = time.perf_counter()
            write_synthetic_checkpoint(args.spec, pickle_path, args.seed)
            print(f"built {pickle_path} in {time.perf_counter() - start:.1f} s")
        size = pickle_path.stat().st_size
        output = Path(tempfile.mkdtemp(dir=workdir)) / "converted"

        _, import_rss = run_measured()
        seconds, peak_rss = run_measured(str(pickle_path), str(output))
        ok = spot_check(
            pickle_path,
            output,
            [
                ("perceiver.encoder.input_adapter.text_embedding.weight", "embed/embeddings", False),
                ("perceiver.encoder.self_attention.layers.25.mlp.fc2.weight",
                 "perceiver_encoder/~/self_attention_25/mlp/linear_1/w", True),
                ("perceiver.decoder.output_query_provider.query",
                 "basic_decoder/~/trainable_position_encoding/pos_embs", False),
            ],
        )
        result = {
            "checkpoint_mib": round(size / MIB, 1),
            "wall_s": round(seconds, 1),
            "peak_rss_mib": round(peak_rss / MIB),
            "peak_rss_x_checkpoint": round(peak_rss / size, 2),
            "import_only_rss_mib": round(import_rss / MIB),
            "peak_above_imports_x_checkpoint": round((peak_rss - import_rss) / size, 2),
            "target_x": TARGET_RATIO,
            "within_target": peak_rss <= TARGET_RATIO * size,
            "weights_match": ok,
        }
        print(
            f"checkpoint {result['checkpoint_mib']} MiB: converted in {result['wall_s']} s, peak RSS "
            f"{result['peak_rss_mib']} MiB = {result['peak_rss_x_checkpoint']}x the checkpoint (target <= "
            f"{TARGET_RATIO}x; imports alone {result['import_only_rss_mib']} MiB, the conversion itself "
            f"{result['peak_above_imports_x_checkpoint']}x); weights match: {ok}"
        )
        print(json.dumps(result))


if __name__ == "__main__":
    main()
