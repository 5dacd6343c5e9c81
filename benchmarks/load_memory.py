"""Peak memory of `from_pretrained` for the 201M-parameter preset (DeepMind's byte model size), on demand.

    python benchmarks/load_memory.py                      # saves a random-weight preset to a temp folder first
    python benchmarks/load_memory.py --model-dir DIR      # any saved perceiver-hf model
    python benchmarks/load_memory.py --modes default,bf16

Each load runs in a fresh Python (after importing torch, transformers and perceiver_hf) so that nothing else
is resident. Reported, in MiB above the process's resident memory just before `from_pretrained`:

- peak RSS: the kernel's high-water mark (VmHWM), so the true peak, sampled or not;
- peak anon: the largest anonymous (heap) part seen by a sampler thread every 2 ms; safetensors files are
  memory-mapped, and mapped file pages count in RSS (RssFile) but can be dropped by the kernel at any time;
- after load: resident memory once `from_pretrained` returns;
- after use / use anon / use peak: resident memory, its anonymous part and the high-water mark after every
  weight was read once (as a forward pass does): transformers 5 maps float32 safetensors weights without
  copying them, so they become resident only when used.

The weights size is the size of the *.safetensors files; "x weights" is the use peak over it ("near one copy"
means close to 1.0).
Not a test: numbers depend on the machine; run it when loading code changes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

MIB = 2**20

MODES = ("default", "low_cpu_mem_usage", "device_map_cpu", "bf16", "disk_offload_half")


def mode_kwargs(mode: str, config: Any, offload_folder: str) -> dict[str, Any]:
    """The `from_pretrained` keyword arguments of benchmark mode `mode`."""
    import torch

    return {
        "default": {},
        "low_cpu_mem_usage": {"low_cpu_mem_usage": True},  # accepted and ignored by transformers 5 (always on)
        "device_map_cpu": {"device_map": "cpu"},
        "bf16": {"dtype": torch.bfloat16},
        "disk_offload_half": {"device_map": _half_on_disk(config), "offload_folder": offload_folder},
    }[mode]


def _status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon and RssFile of this process, in bytes."""
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def _reset_high_water_mark() -> None:
    """Start VmHWM from the current RSS (Linux: write 5 to /proc/self/clear_refs); ignored if not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _half_on_disk(config: Any) -> dict[str, Any]:
    """The latent layers in the second half on "disk", everything else on "cpu"."""
    from perceiver_hf.hub.device_map import latent_layer_device_map

    layers = config.num_self_attention_layers_per_block
    return latent_layer_device_map(config, ["cpu" if i < layers // 2 else "disk" for i in range(layers)])


def child(mode: str, model_dir: str) -> dict[str, Any]:
    """Load `model_dir` with the `mode` arguments in this process and measure; returns the figures."""
    import gc

    import torch

    import perceiver_hf
    from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM

    config = PerceiverConfig.from_pretrained(model_dir)
    with tempfile.TemporaryDirectory() as offload:
        kwargs = mode_kwargs(mode, config, offload)
        gc.collect()
        _reset_high_water_mark()
        before = _status()
        peaks = dict(before)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                now = _status()
                for key in ("RssAnon", "RssFile", "VmRSS"):
                    peaks[key] = max(peaks[key], now[key])
                time.sleep(0.002)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        model = PerceiverForMaskedLM.from_pretrained(model_dir, **kwargs)
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        after = _status()
        num_parameters = sum(p.numel() for p in model.parameters())
        with torch.no_grad():  # read every weight once, as a forward pass would (pages in memory-mapped weights)
            for parameter in model.parameters():
                if parameter.device.type != "meta":
                    parameter.sum()
        used = _status()
    return {
        "mode": mode,
        "perceiver_hf": perceiver_hf.__version__,
        "torch": torch.__version__,
        "seconds": seconds,
        "num_parameters": num_parameters,
        "peak_rss": after["VmHWM"] - before["VmRSS"],
        "peak_anon": peaks["RssAnon"] - before["RssAnon"],
        "peak_file": peaks["RssFile"] - before["RssFile"],
        "after_rss": after["VmRSS"] - before["VmRSS"],
        "after_anon": after["RssAnon"] - before["RssAnon"],
        "used_rss": used["VmRSS"] - before["VmRSS"],
        "used_anon": used["RssAnon"] - before["RssAnon"],
        "used_peak_rss": used["VmHWM"] - before["VmRSS"],
    }


def save_preset(folder: Path) -> None:
    """Save the 201M-parameter preset with random weights (float32 safetensors) in a separate process."""
    code = (
        "import sys, torch; from perceiver_hf import PerceiverConfig, PerceiverForMaskedLM; torch.manual_seed(0); "
        "PerceiverForMaskedLM(PerceiverConfig.language_perceiver()).save_pretrained(sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", code, str(folder)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=None, help="saved model (default: a random 201M preset)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, from {', '.join(MODES)}")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"unknown modes {unknown}; choose from {', '.join(MODES)}")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir
        if model_dir is None:
            model_dir = Path(tmp) / "preset"
            print("saving the 201M-parameter preset with random weights ...", flush=True)
            save_preset(model_dir)
        weights = sum(path.stat().st_size for path in Path(model_dir).glob("*.safetensors"))
        print(f"weights: {weights / MIB:.0f} MiB of safetensors in {model_dir}")
        columns = ["load peak RSS", "load peak anon", "after load", "after use", "use anon", "use peak", "x weights"]
        print(f"{'mode':<20}{'params':>13}" + "".join(f"{c:>16}" for c in columns) + f"{'s':>7}")
        for mode in modes:
            completed = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(model_dir)], check=True, capture_output=True, text=True
            )
            row = json.loads(completed.stdout.strip().splitlines()[-1])
            values = [row[key] / MIB for key in ("peak_rss", "peak_anon", "after_rss", "used_rss", "used_anon")]
            values.append(row["used_peak_rss"] / MIB)
            cells = "".join(f"{value:>16.0f}" for value in values) + f"{row['used_peak_rss'] / weights:>16.2f}"
            print(f"{mode:<20}{row['num_parameters']:>13,}{cells}{row['seconds']:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
