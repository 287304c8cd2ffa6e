"""The eps stream of reparameterize, checked against an independent pure-Python model of docs/ops.md.

The model (Philox4x32-10 on Python ints, Box-Muller in double precision) is first checked against the
Random123 known-answer vectors; the compiled kernels, whatever SIMD variant this CPU selects, must then
reproduce it element by element, and the portable (no-SIMD) variant must agree with the selected one.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from aigc_sdk.ops import _ext, functional

from .conftest import needs_ext

M32 = 0xFFFFFFFF


def philox4x32_10(ctr: tuple[int, int, int, int], key: tuple[int, int]) -> tuple[int, int, int, int]:
    """Reference Philox4x32-10 (Salmon et al. 2011) on Python ints."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & M32, (p0 >> 32) ^ c3 ^ k1, p0 & M32
    return c0, c1, c2, c3


# Random123 tests/kat_vectors, philox4x32 with 10 rounds: (counter, key, output).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M32, M32, M32, M32), (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


def expected_eps(elem: int, seed: int, offset: int) -> float:
    """eps of element `elem` of the stream (seed, offset), as docs/ops.md defines it."""
    blk, within = divmod(elem, 64)
    word, lane = divmod(within, 16)
    g = blk * 16 + lane
    w = philox4x32_10((g & M32, g >> 32, offset & M32, offset >> 32), (seed & M32, seed >> 32))
    pair = word // 2
    u = (w[2 * pair] >> 1) * 2.0**-31 + 2.0**-32
    turns = ((w[2 * pair + 1] >> 8) - 2**21) * 2.0**-24
    r = math.sqrt(-2.0 * math.log(u))
    return r * (math.cos(2 * math.pi * turns) if word % 2 == 0 else math.sin(2 * math.pi * turns))


@pytest.mark.parametrize("ctr,key,out", KAT)
def test_python_model_matches_random123(ctr, key, out):
    assert philox4x32_10(ctr, key) == out


SEED, OFFSET = 0x0123456789ABCDEF, 7


def _state(seed: int = SEED, offset: int = OFFSET) -> torch.Tensor:
    return torch.tensor([seed - (1 << 64) if seed >= 1 << 63 else seed, offset], dtype=torch.int64)


@needs_ext
@pytest.mark.parametrize("seed", [SEED, 0xFEDCBA9876543210])
def test_kernel_stream_matches_python_model(seed):
    n = 70_000  # crosses many 64-element blocks and the 1024-element buffers of the kernels
    eps = functional._regenerate_eps(torch.empty(n), _state(seed)).tolist()
    idx = list(range(0, 200)) + list(range(1000, 1100)) + list(range(n - 200, n))
    for i in idx:
        # float32 polynomials for log/sin/cos: ~1e-6 relative, larger only in the far tail
        assert eps[i] == pytest.approx(expected_eps(i, seed, OFFSET), rel=2e-6, abs=2e-6), i


@needs_ext
def test_portable_variant_agrees_with_selected_one():
    """ATEN_CPU_CAPABILITY=default selects the portable kernels; they must give the same stream."""
    code = textwrap.dedent(
        f"""
        import json, torch
        from aigc_sdk.ops import _ext, functional
        e = functional._regenerate_eps(torch.empty(5000), torch.tensor({_state().tolist()}))
        print(json.dumps({{"cap": _ext.CPU_CAPABILITY, "eps": e.tolist()}}))
        """
    )
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["cap"] == "DEFAULT"
    here = functional._regenerate_eps(torch.empty(5000), _state())
    torch.testing.assert_close(torch.tensor(out["eps"]), here, rtol=1e-5, atol=1e-5)


@needs_ext
def test_kernels_are_built_to_run_in_parallel():
    """at::parallel_for is inlined into the kernels: without OpenMP in the build they run on one thread."""
    if torch.__config__.parallel_info().find("ATen parallel backend: OpenMP") < 0:
        pytest.skip("torch does not use the OpenMP backend here")
    assert _ext.CPU_PARALLEL
