"""Conformance suites for data-set and command plugins (see :mod:`aigc_sdk.testing`)."""

from __future__ import annotations

import socket
from typing import Any, ClassVar

import pytest
import torch

import aigc_sdk
from aigc_sdk.interfaces import DatasetProvider
from aigc_sdk.testing.cli_runner import run_aigc


class DatasetConformance:
    """Checks every registered data set must pass: it is listed and built from options, each
    split is a TensorDataset of the declared shape (images in [0, 1], labels in range), loading
    is deterministic and never touches the network, and bad options or splits are named."""

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
        """Every split holds (x,) or (x, y) with x of sample_shape; images in [0, 1]."""
        provider = self.make_provider()
        for split in self.splits:
            data = provider.load(split)
            assert isinstance(data, torch.utils.data.TensorDataset), split
            x = data.tensors[0]
            assert len(x) > 0, f"split {split!r} is empty"
            assert tuple(x.shape[1:]) == tuple(provider.sample_shape), split
            assert x.is_floating_point() and torch.isfinite(x).all(), split
            if x.ndim == 4:
                assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0, f"{split}: images must be in [0, 1]"
            if provider.num_classes:
                assert len(data.tensors) == 2, f"{split}: a labelled data set gives (x, y)"
                y = data.tensors[1]
                assert not y.is_floating_point() and len(y) == len(x)
                assert int(y.min()) >= 0 and int(y.max()) < provider.num_classes

    def test_loading_is_deterministic_and_offline(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Two loads give identical tensors, with every network connection refused."""

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("a data set must not use the network")

        monkeypatch.setattr(socket.socket, "connect", refuse)
        first, second = self.make_provider(), self.make_provider()
        for split in self.splits:
            for a, b in zip(first.load(split).tensors, second.load(split).tensors, strict=True):
                assert torch.equal(a, b), split

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
