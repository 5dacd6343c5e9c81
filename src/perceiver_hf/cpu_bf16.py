"""Whether this CPU computes in bfloat16 natively: the rule behind `perceiver-hf fill --dtype bfloat16` and
`perceiver-hf train --bf16 --use_cpu`.

torch runs bfloat16 on any CPU, but only CPUs with bf16 instructions (x86: AVX512-BF16 or AMX-BF16; ARM: the
BF16 extension of NEON or SVE) gain from it; elsewhere oneDNN emulates bf16 through float32 and is usually slower
than float32. `torch.cpu.get_capabilities()` (cpuinfo, read once) tells which.
"""

from __future__ import annotations

from typing import Optional

import torch

# torch.cpu.get_capabilities() keys that mean bf16 dot-product instructions (x86 AVX-512, x86 AMX, ARM NEON, ARM SVE)
NATIVE_BF16_CAPABILITIES = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")


def cpu_has_native_bf16() -> bool:
    """True where this CPU has bf16 instructions (one of `NATIVE_BF16_CAPABILITIES`)."""
    capabilities = torch.cpu.get_capabilities()
    return any(capabilities.get(name, False) is True for name in NATIVE_BF16_CAPABILITIES)


def slow_cpu_bf16_warning(option: str, instead: str) -> Optional[str]:
    """A one-line warning for `option` (e.g. "--dtype bfloat16") where this CPU lacks bf16 instructions, saying
    what to do `instead`; None where bf16 is native."""
    if cpu_has_native_bf16():
        return None
    return (
        f"{option}: this CPU has no bfloat16 instructions (AVX512-BF16, AMX or ARM BF16), so bf16 is emulated and "
        f"likely slower than float32; {instead}."
    )


__all__ = ["NATIVE_BF16_CAPABILITIES", "cpu_has_native_bf16", "slow_cpu_bf16_warning"]
