"""The pool of recycled large CPU output buffers (csrc/cpu/output_pool.h)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import torch

import aigc_sdk.ops as ops
from aigc_sdk.ops import functional, reference

from .conftest import needs_ext

BIG = (1024, 1024)  # 4 MiB in float32: pooled


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


@needs_ext
def test_released_output_is_reused_and_results_stay_exact():
    ops.empty_cache()
    x = torch.randn(BIG)
    b = torch.randn(BIG[1])
    y = ops.fused_leaky_relu(x, b, dim=-1)
    ptr = y.data_ptr()
    del y
    before = functional._pool_stats()
    y2 = ops.fused_leaky_relu(x, b, dim=-1)
    after = functional._pool_stats()
    assert y2.data_ptr() == ptr
    assert after["hits"] == before["hits"] + 1
    torch.testing.assert_close(y2, reference.fused_leaky_relu(x, b, dim=-1))
    # a pooled output is an ordinary tensor: resizable, and freed memory goes back on empty_cache()
    y2.resize_(2048, 1024)
    assert y2.shape == (2048, 1024)
    del y2
    assert functional._pool_stats()["cached_bytes"] > 0
    ops.empty_cache()
    assert functional._pool_stats()["cached_bytes"] == 0


@needs_ext
def test_small_outputs_bypass_the_pool():
    before = functional._pool_stats()
    for _ in range(3):
        ops.fused_leaky_relu(torch.randn(64, 64), torch.randn(64))
    after = functional._pool_stats()
    assert (after["hits"], after["misses"]) == (before["hits"], before["misses"])


@needs_ext
def test_channels_last_output_keeps_layout_from_the_pool():
    x = torch.randn(8, 64, 32, 32).to(memory_format=torch.channels_last)  # 2 MiB: pooled
    b = torch.randn(64)
    y = ops.fused_leaky_relu(x, b)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, reference.fused_leaky_relu(x, b))


@needs_ext
def test_limit_is_respected_and_zero_disables():
    code = """
        import json, torch, aigc_sdk.ops as ops
        from aigc_sdk.ops import functional
        x = torch.randn(1536, 1024)  # 6 MiB
        for _ in range(3):
            a = ops.fused_leaky_relu(x); b = ops.fused_leaky_relu(x); del a, b
        print(json.dumps(functional._pool_stats()))
    """
    r = _run(code, AIGC_SDK_POOL_MB="8")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout.strip().splitlines()[-1])
    assert st["limit_bytes"] == 8 << 20 and 0 < st["cached_bytes"] <= 8 << 20 and st["hits"] >= 2
    r = _run(code, AIGC_SDK_POOL_MB="0")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout.strip().splitlines()[-1])
    assert st == {"cached_bytes": 0, "limit_bytes": 0, "hits": 0, "misses": 0}


@needs_ext
def test_bad_limit_is_a_clear_error():
    code = """
        import torch, aigc_sdk.ops as ops
        try:
            ops.fused_leaky_relu(torch.randn(1024, 1024))
        except ValueError as e:
            print("ValueError:", e)
    """
    r = _run(code, AIGC_SDK_POOL_MB="lots")
    assert r.returncode == 0, r.stderr
    assert "ValueError:" in r.stdout and "AIGC_SDK_POOL_MB" in r.stdout


@needs_ext
def test_concurrent_callers_get_correct_results():
    mu = torch.randn(BIG)
    lv = torch.randn(BIG) * 0.3
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            g = torch.Generator().manual_seed(seed)
            first = ops.reparameterize(mu, lv, generator=g)
            for _ in range(20):
                g.manual_seed(seed)
                z = ops.reparameterize(mu, lv, generator=g)
                assert torch.equal(z, first)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
