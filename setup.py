"""Builds the compiled ops extension ``aigc_sdk._C`` ahead of time (metadata lives in pyproject.toml).

* A ``CUDAExtension`` (CPU + CUDA kernels) when torch is a CUDA build and nvcc is found (``CUDA_HOME``),
  unless ``AIGC_SDK_BUILD_CUDA=0``; otherwise a ``CppExtension`` with the CPU kernels only.
* ``TORCH_CUDA_ARCH_LIST`` defaults to "8.0;9.0".
* The CPU kernel bodies (csrc/cpu/kernels_impl.h and the per-op headers it includes) are compiled
  once per CPU capability, each object with its own -m flags (at::vec only emits SIMD code for the
  capability it is compiled for); the op code picks one at run time. setuptools applies one flag set
  to all sources, hence the build_ext subclass.
* ``AIGC_SDK_SKIP_EXT=1`` skips the extension (pure-Python install; the ops use the reference).

Install with ``pip install --no-build-isolation -e .`` so the extension builds against the installed torch.
"""

from __future__ import annotations

import glob
import os
import platform
import sys

from setuptools import setup

ROOT = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join("csrc")

# (name, extra flags) per CPU capability; mirrors the flags ATen uses for its own kernels.
X86_CAPS = [
    ("AVX512", ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma"]),
    ("AVX2", ["-mavx2", "-mfma", "-mf16c"]),
]


def _is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


def _want_cuda() -> bool:
    if os.environ.get("AIGC_SDK_BUILD_CUDA", "1") == "0":
        return False
    import torch
    from torch.utils.cpp_extension import CUDA_HOME

    return (
        torch.version.cuda is not None
        and CUDA_HOME is not None
        and glob.glob(os.path.join(CUDA_HOME, "bin", "nvcc*")) != []
    )


def _extensions_and_cmdclass():
    from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension

    os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "8.0;9.0")
    caps = X86_CAPS if _is_x86() else []
    sources = [
        os.path.join(CSRC, "ops.cpp"),
        os.path.join(CSRC, "cpu", "ops_cpu.cpp"),
        os.path.join(CSRC, "cpu", "output_pool.cpp"),
    ]
    cap_sources = [(os.path.join(CSRC, "cpu", "kernels_default.cpp"), "DEFAULT", [])]
    cap_sources += [(os.path.join(CSRC, "cpu", f"kernels_{n.lower()}.cpp"), n, f) for n, f in caps]
    define = [f"-DAIGC_HAVE_{n}" for n, _ in caps]
    # OpenMP: ATen's at::parallel_for is inlined into our kernels, so without it they run on one thread.
    # At run time the libgomp torch already loaded (same soname) serves them: one thread pool.
    openmp = ["-fopenmp"] if sys.platform.startswith("linux") else []
    cxx = ["-O3", "-fvisibility=hidden", "-Wno-unknown-pragmas", *openmp, *define]
    nvcc = ["-O3", "--expt-relaxed-constexpr"]
    with_cuda = _want_cuda()
    if with_cuda:
        sources.append(os.path.join(CSRC, "cuda", "ops_cuda.cu"))
        ext = CUDAExtension(
            "aigc_sdk._C",
            sources,
            extra_compile_args={"cxx": cxx, "nvcc": nvcc},
            extra_link_args=openmp,
            include_dirs=[CSRC],
        )
    else:
        ext = CppExtension(
            "aigc_sdk._C",
            sources,
            extra_compile_args={"cxx": cxx},
            extra_link_args=openmp,
            include_dirs=[CSRC],
        )
    ext._aigc_cap_sources = cap_sources  # type: ignore[attr-defined]

    class BuildExt(BuildExtension):
        """Compiles the per-capability kernel objects with their own flags, then links them in."""

        def build_extension(self, ext):  # type: ignore[no-untyped-def]
            cap_sources = getattr(ext, "_aigc_cap_sources", [])
            base = ext.extra_compile_args
            base_cxx = list(base["cxx"] if isinstance(base, dict) else base)
            objects = []
            for src, cap, flags in cap_sources:
                extra = [*base_cxx, f"-DCPU_CAPABILITY={cap}", f"-DCPU_CAPABILITY_{cap}", *flags]
                objects += self.compiler.compile(
                    [src],
                    output_dir=self.build_temp,
                    include_dirs=ext.include_dirs,
                    debug=self.debug,
                    extra_postargs=extra,
                    depends=[*glob.glob(os.path.join(CSRC, "cpu", "*.h")), os.path.join(CSRC, "philox.h")],
                )
            ext.extra_objects = [*(ext.extra_objects or []), *objects]
            super().build_extension(ext)

    return [ext], {"build_ext": BuildExt.with_options(use_ninja=True)}


if os.environ.get("AIGC_SDK_SKIP_EXT", "0") == "1":
    setup()
else:
    _ext_modules, _cmdclass = _extensions_and_cmdclass()
    setup(ext_modules=_ext_modules, cmdclass=_cmdclass)
