"""The "classifier" feature extractor: a small network trained on a data set's own labelled
training split.

Its penultimate layer gives features for FID/KID/P-R-D-C, its softmax gives the
Inception-style score and the classification accuracy score.

Training is seeded, runs on the CPU on one thread with deterministic algorithms (so the
weights depend neither on the accelerator nor on the machine's thread count: parallel
reductions sum in a thread-count-dependent order), and the global torch settings are
restored afterwards. The result is cached as safetensors + JSON under
``$AIGC_SDK_CACHE/classifiers``, keyed by a hash of the data and of the training config
(the *fingerprint*). The extractor's ``name`` carries a hash of the trained *weights*
(``classifier-<dataset>-<weights_sha256[:8]>``), so two reports quoting the same name used
bitwise-identical weights.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor

from aigc_metrics._cache import cache_dir, fingerprint
from aigc_sdk.interfaces import DatasetProvider, FeatureExtractor
from aigc_sdk.io import atomic_write_bytes, atomic_write_text
from aigc_sdk.nn import CNNClassifier, train_classifier_steps

log = logging.getLogger("aigc_metrics.classifier")

#: Bump when the architecture or the training recipe changes: it is part of the cache key.
#: 2: single-threaded deterministic training; names carry the weight hash.
RECIPE_VERSION = 2

_memo: dict[str, tuple[dict[str, Tensor], dict[str, Any]]] = {}
_memo_lock = threading.Lock()


class ClassifierNet(CNNClassifier):
    """The extractor's network: :class:`~aigc_sdk.nn.CNNClassifier` with 16 and 32 conv channels,
    dropout 0.25 and a standardisation learnt from the training split (an MLP body for shapes
    that are not ``(C, H, W)`` with ``H, W >= 4``).

    ``features`` returns the penultimate activations, ``forward`` the logits.
    """

    def __init__(self, sample_shape: tuple[int, ...], num_classes: int, feature_dim: int = 128) -> None:
        super().__init__(
            sample_shape, num_classes, channels=16, feature_dim=feature_dim, dropout=0.25, standardize=True
        )


def _split(provider: DatasetProvider, split: str) -> tuple[Tensor, Tensor]:
    from aigc_sdk.interfaces import split_tensors

    tensors = split_tensors(provider.load(split))  # a streaming split is decoded whole here
    if len(tensors) < 2:
        raise ValueError(f"data set {provider.name!r} has no labels; the classifier extractor needs (x, y)")
    return tensors[0].float(), tensors[1].long()


@torch.no_grad()
def _accuracy(net: ClassifierNet, x: Tensor, y: Tensor, batch_size: int = 1024) -> float:
    net.eval()
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        correct += int((net(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    return correct / max(1, x.shape[0])


def weights_sha256(state: Mapping[str, Tensor]) -> str:
    """SHA-256 (hex) of a state dict: for each entry in sorted name order, its name, dtype,
    shape and raw bytes (CPU, contiguous). Equal hashes mean bitwise-equal weights."""
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


@contextlib.contextmanager
def deterministic_cpu() -> Iterator[None]:
    """One intra-op thread and deterministic algorithms for the block, then restore both.

    The thread count is process-wide: other threads running torch at the same time run
    single-threaded until the block ends.
    """
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.set_num_threads(threads)


def _train(
    x: Tensor, y: Tensor, num_classes: int, config: dict[str, Any], desc: str = "classifier"
) -> tuple[ClassifierNet, dict[str, float]]:
    """Seeded, single-threaded, deterministic CPU training in a :class:`~aigc_sdk.training.FitLoop`
    (installed plugins get the lifecycle hooks, labelled ``desc``; a NaN loss raises
    :class:`~aigc_sdk.training.TrainingDivergedError`); the global RNG state, thread count and
    deterministic-algorithms setting are restored afterwards."""
    with torch.random.fork_rng(devices=[]), deterministic_cpu():
        torch.manual_seed(config["seed"])
        net = ClassifierNet(tuple(x.shape[1:]), num_classes, config["feature_dim"])
        net.fit_standardization(x)  # statistics from the training split only
        opt = torch.optim.Adam(net.parameters(), lr=config["lr"])
        n, bs, epochs = x.shape[0], config["batch_size"], config["epochs"]
        steps = epochs * ((n + bs - 1) // bs)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config["lr"], total_steps=steps)
        gen = torch.Generator().manual_seed(config["seed"])
        t0 = time.perf_counter()

        def batches() -> Iterator[tuple[Tensor, Tensor]]:
            for _ in range(epochs):
                perm = torch.randperm(n, generator=gen)
                for i in range(0, n, bs):
                    idx = perm[i : i + bs]
                    yield x[idx], y[idx]

        # The thread count stays deterministic_cpu's single thread (no num_threads here).
        train_classifier_steps(net, batches(), opt, sched, total=steps, desc=desc)
        net.eval()
        return net, {"train_seconds": time.perf_counter() - t0, "train_accuracy": _accuracy(net, x, y)}


class ClassifierExtractor(FeatureExtractor):
    """Features, logits and predictions of a classifier trained on ``dataset``'s train split.

    Args:
        dataset: a registered data set name (e.g. ``"mnist5k"``) or a labelled
            :class:`~aigc_sdk.interfaces.DatasetProvider`.
        seed: training seed.
        epochs, batch_size, lr, feature_dim: training recipe (all part of the cache key).
        cache: read/write the on-disk cache (``$AIGC_SDK_CACHE``, default ``~/.cache/aigc_sdk``).
        device: where inference runs (training always runs on the CPU).
        dataset_options: keyword options for ``aigc_sdk.load_dataset``.

    Attributes: ``name`` (``classifier-<dataset>-<hash8>``, ``hash8`` the first 8 hex digits
    of ``weights_sha256``), ``weights_sha256`` (see :func:`weights_sha256`), ``fingerprint``
    (SHA-256 of the data and the recipe: the cache key), ``feature_dim``, ``num_classes``,
    ``sample_shape``, ``test_accuracy``, ``train_accuracy``, ``path`` (cache entry, without
    suffix).
    """

    def __init__(
        self,
        dataset: str | DatasetProvider = "mnist5k",
        *,
        seed: int = 0,
        epochs: int = 8,
        batch_size: int = 64,
        lr: float = 3e-3,
        feature_dim: int = 128,
        cache: bool = True,
        device: str | torch.device = "cpu",
        dataset_options: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(dataset, str):
            import aigc_sdk

            provider = aigc_sdk.load_dataset(dataset, **(dataset_options or {}))
        elif isinstance(dataset, DatasetProvider):
            provider = dataset
        else:
            raise ValueError(f"dataset must be a data set name or a DatasetProvider, got {dataset!r}")
        if not provider.num_classes:
            raise ValueError(
                f"dataset {provider.name!r} is unlabelled; the classifier extractor needs labels"
            )
        x_tr, y_tr = _split(provider, "train")
        x_te, y_te = _split(provider, "test")
        self.num_classes = int(provider.num_classes)
        self.sample_shape = tuple(x_tr.shape[1:])
        self.feature_dim = int(feature_dim)
        config = {
            "recipe": RECIPE_VERSION,
            "seed": int(seed),
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "lr": float(lr),
            "feature_dim": self.feature_dim,
            "num_classes": self.num_classes,
        }
        self.fingerprint = fingerprint([x_tr, y_tr, x_te, y_te], config)
        self.path = cache_dir() / "classifiers" / f"{provider.name}-{self.fingerprint[:16]}"
        state, meta = self._load_or_train(x_tr, y_tr, x_te, y_te, config, provider.name, cache)
        self.weights_sha256: str = str(meta["weights_sha256"])
        self.name = str(meta["name"])
        with torch.random.fork_rng(devices=[]):  # the random init is overwritten: leave the RNG alone
            self.net = ClassifierNet(self.sample_shape, self.num_classes, self.feature_dim)
        self.net.load_state_dict(state)
        self.net.eval().requires_grad_(False).to(device)
        self.device = torch.device(device)
        self.test_accuracy: float = float(meta["test_accuracy"])
        self.train_accuracy: float = float(meta["train_accuracy"])
        self.meta = meta

    # ------------------------------------------------------------------ cache
    def _load_or_train(
        self,
        x_tr: Tensor,
        y_tr: Tensor,
        x_te: Tensor,
        y_te: Tensor,
        config: dict[str, Any],
        ds: str,
        cache: bool,
    ) -> tuple[dict[str, Tensor], dict[str, Any]]:
        from safetensors.torch import load_file, save

        with _memo_lock:
            if cache and self.fingerprint in _memo:
                return _memo[self.fingerprint]
            weights = self.path.parent / f"{self.path.name}.safetensors"
            meta_path = self.path.parent / f"{self.path.name}.json"
            if cache and weights.exists() and meta_path.exists():
                try:
                    meta = json.loads(meta_path.read_text())
                    if meta.get("fingerprint") == self.fingerprint:
                        state = load_file(str(weights))
                        if weights_sha256(state) == meta.get("weights_sha256"):
                            _memo[self.fingerprint] = (state, meta)
                            return state, meta
                        log.warning("classifier cache %s fails its weight hash; retraining", self.path)
                except (OSError, ValueError) as exc:  # corrupt cache: retrain and overwrite
                    log.warning("ignoring unreadable classifier cache %s: %s", self.path, exc)
            log.info("training classifier on %s (%d samples)", ds, x_tr.shape[0])
            net, stats = _train(x_tr, y_tr, self.num_classes, config, desc=f"classifier {ds}")
            state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
            digest = weights_sha256(state)
            with deterministic_cpu():
                test_accuracy = _accuracy(net, x_te, y_te)
            meta = {
                "name": f"classifier-{ds}-{digest[:8]}",
                "dataset": ds,
                "fingerprint": self.fingerprint,
                "weights_sha256": digest,
                "config": config,
                "sample_shape": list(self.sample_shape),
                "feature_dim": self.feature_dim,
                "test_accuracy": test_accuracy,
                **stats,
            }
            if cache:
                # Weights first, JSON last: the JSON is the "entry complete" marker.
                metadata = {"fingerprint": self.fingerprint, "weights_sha256": digest}
                atomic_write_bytes(weights, save(state, metadata=metadata))
                atomic_write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True))
                _memo[self.fingerprint] = (state, meta)
            return state, meta

    # ------------------------------------------------------------------ inference
    def _check(self, x: Tensor) -> Tensor:
        x = torch.as_tensor(x)
        if tuple(x.shape[1:]) != self.sample_shape:
            raise ValueError(
                f"x must have shape (N, {', '.join(map(str, self.sample_shape))}) for {self.name}, "
                f"got {tuple(x.shape)}"
            )
        if x.shape[0] and not torch.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values")
        return x

    @torch.no_grad()
    def _batched(self, x: Tensor, fn: Any, batch_size: int) -> Tensor:
        x = self._check(x)
        out_device = x.device
        parts = [
            fn(x[i : i + batch_size].to(self.device, torch.float32)).to(out_device)
            for i in range(0, x.shape[0], batch_size)
        ]
        if not parts:
            return torch.empty(0, self.feature_dim if fn == self.net.features else self.num_classes)
        return torch.cat(parts)

    def __call__(self, x: Tensor, *, batch_size: int = 1024) -> Tensor:
        """Penultimate features ``(N, feature_dim)`` (float32) of images in ``[0, 1]``."""
        return self._batched(x, self.net.features, batch_size)

    def logits(self, x: Tensor, *, batch_size: int = 1024) -> Tensor:
        """Class logits ``(N, num_classes)``."""
        return self._batched(x, self.net, batch_size)

    def probs(self, x: Tensor, *, batch_size: int = 1024) -> Tensor:
        """Softmax class probabilities ``(N, num_classes)`` (float64)."""
        return torch.softmax(self.logits(x, batch_size=batch_size).double(), dim=1)

    def predict(self, x: Tensor, *, batch_size: int = 1024) -> Tensor:
        """Predicted labels ``(N,)`` as a LongTensor."""
        return self.logits(x, batch_size=batch_size).argmax(1)

    def __repr__(self) -> str:
        return f"ClassifierExtractor(name={self.name!r}, test_accuracy={self.test_accuracy:.4f})"
