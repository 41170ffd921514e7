"""bf16 mixed precision where the hardware computes in bf16; 32-bit elsewhere, said in one line.

A preset asks for `bf16-mixed` because on a CPU with native bf16 dot products (AVX512-BF16 or AMX)
or an Ampere-or-newer GPU it trains about twice as many tokens a second. On a CPU without them
PyTorch emulates bf16, slower than 32-bit, and an older GPU refuses it; there the run trains in
`32-true` and prints why, so one preset serves every machine.
"""

from __future__ import annotations

import sys
from typing import Any

BF16_SETTINGS = ("bf16-mixed", "bf16")


def native_bf16(on_cpu: bool) -> bool:
    """Whether bf16 math runs natively where the run will train (a CPU or the CUDA GPU)."""
    import torch

    if not on_cpu:
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's own feature checks
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def resolve_precision(trainer: Any, on_cpu: bool) -> None:
    """Change a trainer config's `bf16-mixed` to `32-true` where bf16 is not native, with a one-line note."""
    requested = str(trainer.get("precision"))
    if requested not in BF16_SETTINGS or native_bf16(on_cpu):
        return
    trainer["precision"] = "32-true"
    where = "this CPU has no native bf16 (AVX512-BF16 or AMX)" if on_cpu else "this GPU has no bf16 support"
    print(f"studio: training in 32-true, not {requested}: {where}, so 32-bit is the faster choice", file=sys.stderr)
