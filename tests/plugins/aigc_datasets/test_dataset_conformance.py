"""The data-set author suite, run on the first-party data sets (file-based ones on small fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aigc_sdk.testing import DatasetConformance


class TestDigits(DatasetConformance):
    dataset_name = "digits"


class TestArrays(DatasetConformance):
    dataset_name = "arrays"
    options = {"x": np.random.default_rng(0).random((40, 5)).astype("float32"), "y": np.arange(40) % 3}


class _WithFixtureFiles(DatasetConformance):
    """Writes its fixture files once per class and points ``options`` at them."""

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        cls = type(self)
        if not cls.options:
            cls.options = self.write(tmp_path_factory.mktemp(cls.__name__))

    def write(self, root: Path) -> dict[str, Any]:
        raise NotImplementedError


class TestCsv(_WithFixtureFiles):
    dataset_name = "csv"

    def write(self, root: Path) -> dict[str, Any]:
        rng = np.random.default_rng(1)
        lines = ["a,b,label"] + [f"{rng.random():.4f},{rng.random():.4f},{i % 2}" for i in range(30)]
        (root / "t.csv").write_text("\n".join(lines) + "\n")
        return {"path": str(root / "t.csv"), "label_column": "label"}


class TestImageFolder(_WithFixtureFiles):
    dataset_name = "image-folder"

    def write(self, root: Path) -> dict[str, Any]:
        from PIL import Image

        rng = np.random.default_rng(2)
        for label in ("cat", "dog"):
            (root / label).mkdir()
            for i in range(6):
                pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / label / f"{i}.png")
        return {"root": str(root), "mode": "RGB"}


class TestImageFolderStreaming(TestImageFolder):
    """The same folder read lazily: splits are LazyImageDatasets decoding files on access."""

    options = {}

    def write(self, root: Path) -> dict[str, Any]:
        return {**super().write(root), "stream": True}
