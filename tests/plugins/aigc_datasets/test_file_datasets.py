"""File-backed data sets: idx reader / Fashion-MNIST, image folders, arrays, CSV."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

import aigc_sdk
from aigc_datasets.files import read_idx


def _write_idx(path, arr: np.ndarray, code: int = 0x08, gz: bool = False) -> None:  # type: ignore[no-untyped-def]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    data = header + arr.astype(big).tobytes()
    opener = gzip.open if gz else open
    with opener(path, "wb") as fh:
        fh.write(data)


def _mnist_dir(root, n_train: int = 12, n_test: int = 5, gz: bool = False):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    sfx = ".gz" if gz else ""
    _write_idx(root / f"train-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n_train, 28, 28)), gz=gz)
    _write_idx(root / f"train-labels-idx1-ubyte{sfx}", np.arange(n_train) % 10, gz=gz)
    _write_idx(root / f"t10k-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n_test, 28, 28)), gz=gz)
    _write_idx(root / f"t10k-labels-idx1-ubyte{sfx}", np.arange(n_test) % 10, gz=gz)
    return root


@pytest.mark.parametrize("code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_read_idx_dtypes(tmp_path, code: int) -> None:
    arr = (np.arange(24).reshape(2, 3, 4) - (5 if code != 0x08 else 0)).astype(np.float64)
    _write_idx(tmp_path / "a", arr, code)
    out = read_idx(tmp_path / "a")
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)


def test_read_idx_rejects_garbage(tmp_path) -> None:
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an idx file"):
        read_idx(tmp_path / "bad")
    _write_idx(tmp_path / "short", np.zeros((4, 2)))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(ValueError, match="header says"):
        read_idx(tmp_path / "short")


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_mnist_reader_on_any_mnist_directory(tmp_path, gz: bool) -> None:
    _mnist_dir(tmp_path, gz=gz)
    ds = aigc_sdk.load_dataset("fashion-mnist", root=str(tmp_path))
    train, test = ds.load("train"), ds.load("test")
    assert len(train) == 12 and len(test) == 5 and ds.sample_shape == (1, 28, 28) and ds.num_classes == 10
    x, y = train.tensors
    assert x.dtype == torch.float32 and float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert y.tolist() == [i % 10 for i in range(12)]
    assert len(aigc_sdk.load_dataset("idx", root=str(tmp_path)).load("all")) == 17


def test_missing_fashion_mnist_names_package_and_path(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"dataset-fashion-mnist") as info:
        aigc_sdk.load_dataset("fashion-mnist", root=str(tmp_path / "nowhere"))
    assert "nowhere" in str(info.value)


def test_image_folder(tmp_path) -> None:
    from PIL import Image

    for cls, value in (("cat", 10), ("dog", 200)):
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.fromarray(np.full((6, 6), value + i, dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    ds = aigc_sdk.load_dataset("image-folder", root=str(tmp_path), test_fraction=0.4)
    assert ds.classes == ["cat", "dog"] and ds.sample_shape == (1, 6, 6)
    x, y = ds.load("all").tensors
    assert len(ds.load("train")) == 6 and len(ds.load("test")) == 4
    assert y.tolist() == [0] * 5 + [1] * 5 and abs(float(x[0, 0, 0, 0]) - 10 / 255) < 1e-6
    rgb = aigc_sdk.load_dataset("image-folder", root=str(tmp_path), mode="RGB", size=4)
    assert rgb.sample_shape == (3, 4, 4)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        aigc_sdk.load_dataset("image-folder", root=str(tmp_path / "missing"))


def test_arrays_from_memory_and_npz(tmp_path) -> None:
    x, y = np.random.default_rng(0).random((20, 3)), np.arange(20) % 2
    ds = aigc_sdk.load_dataset("arrays", x=torch.as_tensor(x), y=y)
    assert ds.sample_shape == (3,) and ds.num_classes == 2
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds2 = aigc_sdk.load_dataset("arrays", path=str(tmp_path / "d.npz"))
    assert torch.equal(ds.load("test").tensors[0], ds2.load("test").tensors[0])  # deterministic split
    with pytest.raises(ValueError, match="x is required"):
        aigc_sdk.load_dataset("arrays")


def test_csv_table(tmp_path) -> None:
    lines = ["a,b,label"] + [f"{i},{i * 0.5},{'yes' if i % 2 else 'no'}" for i in range(10)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    ds = aigc_sdk.load_dataset("csv", path=str(tmp_path / "t.csv"), label_column="label")
    assert ds.columns == ["a", "b"] and ds.classes == ["no", "yes"] and ds.sample_shape == (2,)
    x, y = ds.load("all").tensors
    assert x[3].tolist() == [3.0, 1.5] and y[3] == 1
    with pytest.raises(ValueError, match="label_column"):
        aigc_sdk.load_dataset("csv", path=str(tmp_path / "t.csv"), label_column="nope")
    (tmp_path / "bad.csv").write_text("a,b\n1,x\n")
    with pytest.raises(ValueError, match="numeric"):
        aigc_sdk.load_dataset("csv", path=str(tmp_path / "bad.csv"))


def test_builtin_splits_are_deterministic() -> None:
    a = aigc_sdk.load_dataset("digits").load("test").tensors[1]
    b = aigc_sdk.load_dataset("digits").load("test").tensors[1]
    assert torch.equal(a, b)
