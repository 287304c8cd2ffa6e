"""``image-folder`` with ``stream=``: lazily decoded images agree with the in-memory ones."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

import aigc_sdk
from aigc_datasets import files
from aigc_datasets.files import ImageFolder
from aigc_datasets.lazy_images import LazyImageDataset
from aigc_sdk.errors import CorruptFileError


def _write_folder(root: Path, per_class: int = 5, sizes: tuple[tuple[int, int], ...] = ((7, 6),)) -> Path:
    """Three classes of PNGs saved in several PIL modes (grey, RGB, palette), so that mode
    conversion is exercised too; ``sizes`` (width, height) are cycled through the files."""
    rng = np.random.default_rng(0)
    k = 0
    for cls in ("ant", "bee", "cat"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            w, h = sizes[k % len(sizes)]
            k += 1
            kind = ("L", "RGB", "P")[i % 3]
            if kind == "L":
                im = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8))
            else:
                im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
                if kind == "P":
                    im = im.quantize(16)
            im.save(root / cls / f"{i:03d}.png")
    return root


def _stack(ds: torch.utils.data.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    items = [ds[i] for i in range(len(ds))]  # type: ignore[arg-type]
    return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _write_folder(tmp_path / "imgs")


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on any pixel decoding (PIL's ``load()``, which ``convert``/``resize``/``asarray``
    go through) fails the test; returns the list of files someone tried to decode."""
    calls: list[str] = []

    def refuse(self: Image.Image, *args: object, **kwargs: object) -> None:
        calls.append(str(getattr(self, "filename", "?")))
        raise AssertionError(f"decoded {getattr(self, 'filename', '?')} at construction")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)
    return calls


@pytest.mark.parametrize("mode", ["L", "RGB"])
@pytest.mark.parametrize("size", [None, 5])
def test_stream_and_eager_give_identical_tensors(folder: Path, mode: str, size: int | None) -> None:
    eager = ImageFolder(folder, mode=mode, size=size, stream=False, test_fraction=0.4, seed=3)
    lazy = ImageFolder(folder, mode=mode, size=size, stream=True, test_fraction=0.4, seed=3)
    assert (lazy.sample_shape, lazy.num_classes, lazy.classes, lazy.name) == (
        eager.sample_shape,
        eager.num_classes,
        eager.classes,
        eager.name,
    )
    assert lazy.sample_shape == ((1 if mode == "L" else 3), *((6, 7) if size is None else (size, size)))
    assert not eager.stream and lazy.stream
    for split in ("train", "test", "all"):
        want_x, want_y = eager.load(split).tensors
        data = lazy.load(split)
        assert isinstance(data, LazyImageDataset) and len(data) == len(want_x)
        x0, y0 = data[0]
        assert x0.dtype == torch.float32 and x0.shape == lazy.sample_shape
        assert y0.dtype == torch.int64 and y0.ndim == 0
        x, y = _stack(data)
        assert torch.equal(x, want_x), split
        assert torch.equal(y, want_y), split
    assert len(lazy.load("train")) + len(lazy.load("test")) == 15


def test_stream_option_reaches_the_provider_through_the_registry_and_cli_syntax(folder: Path) -> None:
    from aigc_sdk.commands.data_options import parse_key_values

    options = parse_key_values(f"root={folder},size=4,mode=RGB,stream=true", "--data")
    assert options["stream"] is True
    ds = aigc_sdk.load_dataset("image-folder", **options)
    assert ds.stream and ds.sample_shape == (3, 4, 4)
    with pytest.raises(ValueError, match="stream"):
        aigc_sdk.load_dataset("image-folder", root=str(folder), stream="yes")


def test_auto_mode_streams_above_the_threshold(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert files.STREAM_THRESHOLD == 10_000
    monkeypatch.setattr(files, "STREAM_THRESHOLD", 14)
    assert ImageFolder(folder).stream  # 15 images > 14
    monkeypatch.setattr(files, "STREAM_THRESHOLD", 15)
    auto = ImageFolder(folder)
    assert not auto.stream  # not more than 15
    assert isinstance(auto.load("train"), torch.utils.data.TensorDataset)
    assert ImageFolder(folder, stream=True).stream and not ImageFolder(folder, stream=False).stream


def test_streaming_provider_has_no_image_array(folder: Path) -> None:
    lazy = ImageFolder(folder, stream=True)
    with pytest.raises(AttributeError, match="streaming"):
        _ = lazy.x
    with pytest.raises(ValueError, match="no-such-split"):
        lazy.load("no-such-split")
    assert "stream=True" in repr(lazy) and "n=15" in repr(lazy)
    data = lazy.load("all")
    assert data.path(0).endswith("ant/000.png") and data.label(-1) == 2
    with pytest.raises(IndexError):
        data[15]
    assert torch.equal(data[-1][0], data[14][0])


def test_pickle_round_trip_gives_the_same_items(folder: Path) -> None:
    data = ImageFolder(folder, mode="RGB", stream=True).load("train")
    restored = pickle.loads(pickle.dumps(data))
    assert len(restored) == len(data)
    for i in range(len(data)):
        for a, b in zip(data[i], restored[i], strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize("context", [None, "spawn"])
def test_works_through_a_dataloader_with_workers(folder: Path, context: str | None) -> None:
    provider = ImageFolder(folder, mode="RGB", size=4, stream=True)
    want_x, want_y = ImageFolder(folder, mode="RGB", size=4, stream=False).load("train").tensors
    loader = torch.utils.data.DataLoader(
        provider.load("train"), batch_size=4, num_workers=2, multiprocessing_context=context
    )
    batches = list(loader)
    assert all(x.shape[1:] == (3, 4, 4) for x, _ in batches)
    assert torch.equal(torch.cat([x for x, _ in batches]), want_x)
    assert torch.equal(torch.cat([y for _, y in batches]), want_y)


def test_mixed_sizes_fail_at_construction_from_headers_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _write_folder(tmp_path / "mixed", sizes=((6, 6), (8, 5)))
    no_decoding = _forbid_decoding(monkeypatch)
    with pytest.raises(ValueError, match=r"have different sizes .*; pass size="):
        ImageFolder(root, stream=True)
    assert no_decoding == []
    resized = ImageFolder(root, stream=True, size=6)  # with size= the sizes may differ
    assert resized.sample_shape == (1, 6, 6) and no_decoding == []


def test_mixed_sizes_message_is_the_same_in_both_modes(tmp_path: Path) -> None:
    root = _write_folder(tmp_path / "mixed", sizes=((6, 6), (8, 5)))
    messages = []
    for stream in (False, True):
        with pytest.raises(ValueError, match="pass size=") as info:
            ImageFolder(root, mode="RGB", stream=stream)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_construction_over_many_files_decodes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _write_folder(tmp_path / "many", per_class=70)
    no_decoding = _forbid_decoding(monkeypatch)
    for size in (None, 8):
        provider = ImageFolder(root, mode="RGB", size=size, stream=True)
        for split in ("train", "test", "all"):
            provider.load(split)
    assert no_decoding == []
    monkeypatch.undo()
    assert provider.load("all")[209][0].shape == (3, 8, 8)  # decoding happens on access
    # Bounded memory: the pickled data set (paths + labels) stays a few dozen bytes per image.
    data = provider.load("all")
    assert len(data) == 210
    assert len(pickle.dumps(data)) < 2_000 + 210 * (len(data.path(0)) + 16)


def test_a_corrupt_file_is_named_when_it_is_decoded(folder: Path) -> None:
    bad = folder / "bee" / "002.png"
    bad.write_bytes(bad.read_bytes()[:-30])  # the header survives, the end of the pixel data does not
    provider = ImageFolder(folder, stream=True)  # headers read fine
    data = provider.load("all")
    good = [i for i in range(len(data)) if data.path(i) != str(bad)]
    assert len(good) == len(data) - 1 and all(data[i][0].shape == (1, 6, 7) for i in good[:3])
    broken = next(i for i in range(len(data)) if data.path(i) == str(bad))
    with pytest.raises(CorruptFileError, match="cannot be read") as info:
        data[broken]
    assert str(bad) in str(info.value)
    with pytest.raises(CorruptFileError) as eager:
        ImageFolder(folder, stream=False)
    assert str(bad) in str(eager.value)


def test_an_unreadable_header_is_named_at_construction(folder: Path) -> None:
    bad = folder / "cat" / "001.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(CorruptFileError) as info:
        ImageFolder(folder, stream=True)
    assert str(bad) in str(info.value)
    data = ImageFolder(folder, stream=True, size=4).load("all")  # with size= no header is read
    broken = next(i for i in range(len(data)) if data.path(i) == str(bad))
    with pytest.raises(CorruptFileError) as later:
        data[broken]
    assert str(bad) in str(later.value)


def test_trainer_trains_on_a_streaming_folder(folder: Path) -> None:
    provider = ImageFolder(folder, mode="RGB", size=8, stream=True)
    torch.manual_seed(0)
    model = aigc_sdk.create_model("gan", data_shape=list(provider.sample_shape))
    metrics = aigc_sdk.training.Trainer(model, provider, steps=2, batch_size=4, progress=False).fit()
    assert metrics["steps"] == 2.0
