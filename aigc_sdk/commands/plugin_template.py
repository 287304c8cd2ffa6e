"""``aigc plugins new NAME``: write a ready-to-install plugin package.

The package has a ``pyproject.toml`` with the ``aigc_sdk`` entry point, a light ``__init__``
that registers one model and one evaluator lazily, the two implementations (a diagonal-Gaussian
model fitted by maximum likelihood and a mean-gap metric: small, but real), a README, and
tests that run the SDK's conformance suites on both. ``pip install -e NAME && pytest NAME``
passes as generated; replace the implementations with your own.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

_PYPROJECT = """[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "An aigc-sdk plugin"
requires-python = ">=3.10"
dependencies = ["aigc-sdk"]

# This table is what makes aigc-sdk discover the plugin.
[project.entry-points.aigc_sdk]
{entry} = "{package}"

[tool.setuptools]
packages = ["{package}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

_INIT = '''"""{dist}: hook implementations. Keep this module light: no torch, no model imports."""

from aigc_sdk import hookimpl

#: The aigc-sdk plugin API range this plugin was written for.
AIGC_SDK_API = ">=1,<2"


@hookimpl
def register_models(register):  # type: ignore[no-untyped-def]
    """Register this plugin's models."""
    register(
        "{prefix}-gaussian",
        "{package}.model:DiagonalGaussian",
        summary="diagonal Gaussian fitted by maximum likelihood",
        family="{prefix}",
    )


@hookimpl
def register_evaluators(register):  # type: ignore[no-untyped-def]
    """Register this plugin's metrics."""
    register("{prefix}-mean-gap", "{package}.metric:MeanGap", summary="L2 gap of feature means")
'''

_MODEL = '''"""A diagonal Gaussian over flattened samples, fitted by maximum likelihood with Adam."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from aigc_sdk.interfaces import GenerativeModel


class DiagonalGaussian(GenerativeModel):
    """``x ~ N(mean, diag(exp(log_std))^2)`` with learned ``mean`` and ``log_std``."""

    family = "{prefix}"

    def __init__(self, data_shape: Sequence[int] = (8,), lr: float = 0.05) -> None:
        super().__init__()
        shape = [int(d) for d in data_shape]
        if not shape or any(d < 1 for d in shape):
            raise ValueError(f"data_shape must be a list of positive ints, got {{data_shape!r}}")
        if not lr > 0:
            raise ValueError(f"lr must be a positive number, got {{lr!r}}")
        self.data_shape, self.lr = shape, float(lr)
        dim = math.prod(shape)
        self.mean = nn.Parameter(torch.zeros(dim))
        self.log_std = nn.Parameter(torch.zeros(dim))

    def get_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this model."""
        return {{"data_shape": self.data_shape, "lr": self.lr}}

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, condition: Tensor | None = None
    ) -> Tensor:
        """``n`` samples; the same generator seed gives the same samples."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {{n!r}}")
        eps = torch.randn(n, self.mean.numel(), generator=generator)
        return (self.mean + eps * self.log_std.exp()).view(n, *self.data_shape)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One Adam optimizer."""
        return {{"main": torch.optim.Adam(self.parameters(), lr=self.lr)}}

    def training_step(
        self, batch: tuple[Tensor, ...], optimizers: Mapping[str, torch.optim.Optimizer], step: int
    ) -> dict[str, float]:
        """One step of the Gaussian negative log-likelihood."""
        x = batch[0].flatten(1).to(self.mean.dtype)
        z = (x - self.mean) / self.log_std.exp()
        nll = (0.5 * z.pow(2) + self.log_std + 0.5 * math.log(2 * math.pi)).sum(1).mean()
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        nll.backward()
        opt.step()
        return {{"nll": nll.item()}}
'''

_METRIC = '''"""A streaming metric: the L2 distance between the mean real and the mean fake feature."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from aigc_sdk.interfaces import Evaluator


class MeanGap(Evaluator):
    """``||mean(real) - mean(fake)||``, accumulated in float64."""

    name = "{prefix}-mean-gap"
    higher_is_better: ClassVar[dict[str, bool]] = {{"mean_gap": False}}

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far."""
        self._sum: dict[str, Tensor | None] = {{"real": None, "fake": None}}
        self._n = {{"real": 0, "fake": 0}}

    def update(self, *, real: Tensor | None = None, fake: Tensor | None = None) -> None:
        """Add ``(N, D)`` feature batches."""
        for key, x in (("real", real), ("fake", fake)):
            if x is None:
                continue
            x = torch.as_tensor(x).flatten(1).double()
            if not torch.isfinite(x).all():
                raise ValueError(f"{{key}} contains NaN or infinite values")
            prev = self._sum[key]
            self._sum[key] = x.sum(0) if prev is None else prev + x.sum(0)
            self._n[key] += x.shape[0]

    def compute(self) -> dict[str, float]:
        """``{{"mean_gap": value}}``."""
        real, fake = self._sum["real"], self._sum["fake"]
        if real is None or fake is None:
            raise ValueError("update() needs real and fake samples before compute()")
        return {{"mean_gap": float((real / self._n["real"] - fake / self._n["fake"]).norm())}}
'''

_TESTS = '''"""aigc-sdk's conformance suites, pointed at this plugin's model and metric."""

from aigc_sdk.testing import EvaluatorConformance, ModelConformance


class TestDiagonalGaussian(ModelConformance):
    model_name = "{prefix}-gaussian"
    config = {{"data_shape": [6]}}
    sample_shape = (6,)


class TestMeanGap(EvaluatorConformance):
    evaluator_name = "{prefix}-mean-gap"
'''

_README = """# {dist}

An [aigc-sdk](https://pypi.org/project/aigc-sdk/) plugin, generated by `aigc plugins new`.

```bash
pip install -e .
aigc plugins          # lists {prefix}-gaussian and {prefix}-mean-gap
pytest                # the SDK's conformance suites on both
```

Replace `{package}/model.py` and `{package}/metric.py` with your own; register more things in
`{package}/__init__.py` (every hook is documented in aigc-sdk's docs/plugins.md: models,
generators, discriminators, encoders, decoders, evaluators, feature extractors, data sets,
use-cases, commands, lifecycle hooks).
"""


def write_plugin_package(name: str, parent: Path) -> Path:
    """Write the package for plugin ``name`` (e.g. ``demo-plugin``) under ``parent``; return its folder.

    Refuses a name that is not a valid distribution name or an existing target folder.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*([-_.][A-Za-z0-9]+)*", name or ""):
        raise ValueError(
            f"NAME must be a distribution name of letters, digits and single -_. separators, got {name!r}"
        )
    package = re.sub(r"[-.]", "_", name).lower()
    if keyword.iskeyword(package):
        raise ValueError(f"NAME {name!r} gives the Python keyword {package!r} as package name")
    target = parent / name
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose another NAME or remove it")
    prefix = package.removeprefix("aigc_").replace("_", "-")
    values = {"dist": name, "package": package, "entry": package, "prefix": prefix}
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"{package}/__init__.py": _INIT,
        f"{package}/model.py": _MODEL,
        f"{package}/metric.py": _METRIC,
        "tests/test_conformance.py": _TESTS,
    }
    tmp = parent / f".{name}.tmp"
    for rel, template in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    tmp.rename(target)  # the package appears whole or not at all
    return target
