"""Conformance suites for data-set and command plugins (see :mod:`aigc_sdk.testing`)."""

from __future__ import annotations

import socket
from typing import Any, ClassVar

import pytest
import torch

import aigc_sdk
from aigc_sdk.interfaces import DatasetProvider
from aigc_sdk.testing.cli_runner import run_aigc


def _probe_indices(n: int, count: int = 8) -> list[int]:
    """Up to ``count`` indices spread over ``range(n)``, first and last included."""
    return sorted({round(k * (n - 1) / max(count - 1, 1)) for k in range(count)}) if n else []


class DatasetConformance:
    """Checks every registered data set must pass: it is listed and built from options, each
    split is a map-style Dataset (TensorDataset or any other with ``len`` and indexing) whose
    items are tuples of the declared shape (images in [0, 1], labels in range), loading is
    deterministic and never touches the network, and bad options or splits are named."""

    #: Name the plugin registers the data set under.
    dataset_name: ClassVar[str] = ""
    #: Options for the provider (e.g. ``{"root": "/path/to/fixture"}``); keep the data small.
    options: ClassVar[dict[str, Any]] = {}
    #: Splits the provider must serve.
    splits: ClassVar[tuple[str, ...]] = ("train", "test")

    def make_provider(self) -> DatasetProvider:
        """Build the provider under test through the public registry."""
        if not self.dataset_name:
            pytest.fail("set `dataset_name` on your DatasetConformance subclass")
        return aigc_sdk.load_dataset(self.dataset_name, **self.options)

    def test_is_registered_and_returns_a_provider(self) -> None:
        """The name is listed and the factory returns a DatasetProvider with a sample shape."""
        assert self.dataset_name in aigc_sdk.list_datasets()
        provider = self.make_provider()
        assert isinstance(provider, DatasetProvider)
        assert all(isinstance(d, int) and d > 0 for d in provider.sample_shape)

    def test_splits_have_the_declared_shape_and_range(self) -> None:
        """Every split is a map-style Dataset with ``len`` whose items are ``(x,)`` or ``(x, y)``:
        x a finite float tensor of sample_shape (images in [0, 1]); y, when labelled, a 0-dim
        integer tensor in ``range(num_classes)``. A TensorDataset is checked whole, any other
        Dataset on a few items spread over the split (a streaming set decodes only those)."""
        provider = self.make_provider()
        for split in self.splits:
            data = provider.load(split)
            assert isinstance(data, torch.utils.data.Dataset), f"{split}: load() must return a Dataset"
            assert hasattr(data, "__len__"), f"{split}: the Dataset must be map-style with __len__"
            assert len(data) > 0, f"split {split!r} is empty"
            for i in _probe_indices(len(data)):
                item = data[i]
                assert isinstance(item, tuple), f"{split}[{i}]: items must be tuples (x,) or (x, y)"
                self._check_sample(provider, split, i, item)
            if isinstance(data, torch.utils.data.TensorDataset):
                self._check_tensors(provider, split, data.tensors)

    def _check_sample(self, provider: DatasetProvider, split: str, i: int, item: tuple[Any, ...]) -> None:
        where = f"{split}[{i}]"
        labelled = bool(provider.num_classes)
        assert len(item) == (2 if labelled else 1), (
            f"{where}: a labelled data set gives (x, y), an unlabelled one (x,); got {len(item)} values"
        )
        x = item[0]
        assert isinstance(x, torch.Tensor), f"{where}: x must be a tensor, got {type(x).__name__}"
        assert tuple(x.shape) == tuple(provider.sample_shape), (
            f"{where}: x has shape {tuple(x.shape)}, sample_shape is {tuple(provider.sample_shape)}"
        )
        assert x.is_floating_point() and bool(torch.isfinite(x).all()), f"{where}: x must be finite floats"
        if x.ndim == 3:
            assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0, f"{where}: images must be in [0, 1]"
        if labelled:
            y = item[1]
            assert isinstance(y, torch.Tensor) and y.ndim == 0, f"{where}: y must be a 0-dim tensor"
            assert not y.is_floating_point() and not y.is_complex(), f"{where}: y must be an integer tensor"
            assert 0 <= int(y) < int(provider.num_classes or 0), f"{where}: label {int(y)} out of range"

    def _check_tensors(
        self, provider: DatasetProvider, split: str, tensors: tuple[torch.Tensor, ...]
    ) -> None:
        x = tensors[0]
        assert tuple(x.shape[1:]) == tuple(provider.sample_shape), split
        assert x.is_floating_point() and torch.isfinite(x).all(), split
        if x.ndim == 4:
            assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0, f"{split}: images must be in [0, 1]"
        if provider.num_classes:
            assert len(tensors) == 2, f"{split}: a labelled data set gives (x, y)"
            y = tensors[1]
            assert not y.is_floating_point() and len(y) == len(x)
            assert int(y.min()) >= 0 and int(y.max()) < provider.num_classes

    def test_loading_is_deterministic_and_offline(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Two loads give splits of the same length and identical items, with every network
        connection refused (TensorDatasets are compared whole, others on a few items)."""

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("a data set must not use the network")

        monkeypatch.setattr(socket.socket, "connect", refuse)
        first, second = self.make_provider(), self.make_provider()
        for split in self.splits:
            a, b = first.load(split), second.load(split)
            assert len(a) == len(b), split
            if isinstance(a, torch.utils.data.TensorDataset) and isinstance(
                b, torch.utils.data.TensorDataset
            ):
                for ta, tb in zip(a.tensors, b.tensors, strict=True):
                    assert torch.equal(ta, tb), split
                continue
            for i in _probe_indices(len(a)):
                for ta, tb in zip(a[i], b[i], strict=True):
                    assert torch.equal(ta, tb), f"{split}[{i}]"

    def test_bad_options_and_splits_are_named(self) -> None:
        """An unknown option or split raises an error that names it."""
        with pytest.raises((TypeError, ValueError)) as info:
            aigc_sdk.load_dataset(self.dataset_name, **self.options, no_such_option_xyz=1)
        assert "no_such_option_xyz" in str(info.value)
        with pytest.raises((ValueError, KeyError)) as info_split:
            self.make_provider().load("no-such-split")
        assert "no-such-split" in str(info_split.value)


class CommandConformance:
    """Checks a ``register_commands`` plugin must pass: the command is listed in ``aigc --help``,
    its ``--help`` exits 0, a good invocation exits 0 and a bad one gives a usage error (exit
    code 2, one line, no traceback)."""

    #: The sub-command's name, as in ``aigc NAME``.
    command: ClassVar[str] = ""
    #: Arguments after the name that must succeed (keep them fast).
    good_args: ClassVar[tuple[str, ...]] = ()
    #: Arguments after the name that are wrong and must be refused as a usage error.
    bad_args: ClassVar[tuple[str, ...]] = ("--no-such-flag-xyz",)

    def _name(self) -> str:
        if not self.command:
            pytest.fail("set `command` on your CommandConformance subclass")
        return self.command

    def test_is_listed_in_help(self) -> None:
        """``aigc --help`` lists the command."""
        result = run_aigc("--help")
        assert result.ret == 0
        assert self._name() in result.stdout

    def test_help_exits_zero(self) -> None:
        """``aigc NAME --help`` prints usage and exits 0."""
        result = run_aigc(self._name(), "--help")
        assert result.ret == 0, result.stderr
        assert "usage:" in result.stdout

    def test_good_invocation_succeeds(self) -> None:
        """The good arguments exit 0 without an error line."""
        result = run_aigc(self._name(), *self.good_args)
        assert result.ret == 0, result.stderr
        assert not result.error_lines()

    def test_bad_invocation_is_a_one_line_usage_error(self) -> None:
        """The bad arguments exit 2 with an error and no traceback."""
        result = run_aigc(self._name(), *self.bad_args)
        assert result.ret == 2, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert "error" in result.stderr
