"""The ``anomaly`` use-case: a detector for tabular data and images.

The default ``kind="ensemble"`` adds the standardised scores of several detectors, each
strong where another is weak (measured on four data sets, see ``docs/usecases.md``):

* tables: the autoencoder recipe below + an isolation forest (weight 2) + ECOD;
* images ``(N, C, H, W)``: a rotation-prediction CNN (:mod:`aigc_anomaly.rotation`) + an
  isolation forest on the pixels.

``kind="ae"`` / ``"vae"`` is the network recipe alone (each step measured on Shuttle):

1. scale features on the training data (``standard`` or ``robust``), NaN refused or imputed;
2. train a small autoencoder on all training rows;
3. drop the ``trim`` fraction of rows whose codes are farthest from the bulk (robust
   Mahalanobis distance in the latent space) and train a fresh autoencoder on the rest, so
   the anomalies hidden in unlabelled training data are not learned as "normal";
4. score = squared Mahalanobis distance of the reconstruction residual, whitened by a robust
   covariance of the training residuals (``score_space="joint"`` appends the code).

Higher scores are more anomalous; :meth:`Detector.predict` flags the ``contamination``
fraction of training scores.

On a DataFrame, label and ID columns are not features: see :mod:`aigc_anomaly.columns`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from aigc_anomaly.classical import ECODScorer, IsolationForestScorer, ScoreStandardiser
from aigc_anomaly.columns import ColumnRoles, align_columns, is_frame, split_columns
from aigc_anomaly.networks import TabularAutoEncoder
from aigc_anomaly.preprocessing import Preprocessor
from aigc_anomaly.rotation import RotationNet
from aigc_anomaly.whitening import RobustGaussian
from aigc_sdk import threads as torch_threads
from aigc_sdk.interfaces import UseCase
from aigc_sdk.io import format_tag
from aigc_sdk.training import FitLoop, TrainingDivergedError
from aigc_sdk.validation import check_choice, check_int

FORMAT = format_tag("anomaly-detector")
SCORE_SPACES = ("residual", "joint", "latent")
KINDS = ("ensemble", "ae", "vae")
# Ensemble weights, chosen on the protocol's tables: the forest is the steadiest of the three.
TABULAR_WEIGHTS = {"network": 1.0, "forest": 2.0, "ecod": 1.0}
IMAGE_WEIGHTS = {"rotation": 1.0, "forest": 1.0}


def _is_image_shape(shape: tuple[int, ...] | None) -> bool:
    """True for a per-sample shape ``(C, H, W)`` with at most 4 channels and H = W >= 8."""
    return shape is not None and len(shape) == 3 and shape[0] <= 4 and shape[1] == shape[2] >= 8


def _threads_arg(num_threads: Any) -> int | None:
    """``num_threads`` checked: None (leave torch's setting alone) or a positive int."""
    return None if num_threads is None else check_int("num_threads", num_threads)


def _binary_labels(column: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(row mask, 0/1 labels)`` of a label column's non-missing rows when it is 0/1 (or bool)
    with both classes present, else None (multi-class or other codings get no metrics)."""
    values = column.to_numpy()
    mask = ~np.asarray(column.isna().to_numpy(), dtype=bool)
    try:
        present = set(np.unique(values[mask]).tolist()) if mask.any() else set()
    except TypeError:  # mixed types that do not sort: not a 0/1 label
        return None
    if len(present) != 2 or not present <= {0, 1}:
        return None
    return mask, values[mask].astype(np.int64)


class Detector(UseCase):
    """Unsupervised anomaly detector: an ensemble (default), an autoencoder or a VAE.

    Args:
        kind: ``"ensemble"`` (the network recipe, an isolation forest and ECOD for tables; a
            rotation-prediction CNN and an isolation forest for images), ``"ae"`` or ``"vae"``
            (the network recipe alone).
        hidden: widths of the encoder's hidden layers (the decoder mirrors them).
        latent_dim: size of the code.
        epochs, batch_size, lr: training of each autoencoder (Adam, one-cycle schedule).
        beta: KL weight of the VAE.
        trim: fraction of training rows dropped before the second fit (0 disables the refit).
        contamination: expected anomaly fraction; sets the :meth:`predict` threshold.
        score_space: ``"residual"`` (default), ``"joint"`` (residual + code) or ``"latent"``.
        forest_trees: trees of the ensemble's isolation forest.
        rotation_steps: training steps of the ensemble's rotation CNN (images); ``None``:
            two epochs, at least 150 and at most 1000 steps (longer overfits: measured on
            Fashion-MNIST, 300 steps gave AP 0.42 against 0.53 for 140).
        scaling, nan_policy, clip: see :class:`aigc_anomaly.preprocessing.Preprocessor`.
        seed: makes fit and score bitwise reproducible on CPU (same thread count).

    ``fit``, ``score``, ``predict`` and ``evaluate`` take ``num_threads=N`` to run with ``N``
    torch intra-op threads, restoring the previous count afterwards (the setting is
    process-wide while the call runs).

    Each network's training runs in a :class:`~aigc_sdk.training.FitLoop`: ``fit(callbacks=...)``
    and installed plugins get the lifecycle hooks, and a non-finite loss raises
    :class:`~aigc_sdk.training.TrainingDivergedError`.
    """

    name: ClassVar[str] = "anomaly"
    artifact_format: ClassVar[str | None] = FORMAT

    def __init__(
        self,
        kind: str = "ensemble",
        *,
        hidden: tuple[int, ...] | list[int] = (64, 64),
        latent_dim: int = 4,
        epochs: int = 10,
        batch_size: int = 256,
        lr: float = 3e-3,
        beta: float = 0.1,
        trim: float = 0.1,
        contamination: float = 0.1,
        score_space: str = "residual",
        forest_trees: int = 300,
        rotation_steps: int | None = None,
        scaling: str = "standard",
        nan_policy: str = "raise",
        clip: float | None = 1e3,
        seed: int = 0,
    ) -> None:
        check_choice("kind", kind, KINDS)
        if score_space not in SCORE_SPACES:
            raise ValueError(f"score_space must be one of {SCORE_SPACES}, got {score_space!r}")
        if not 0.0 <= trim < 0.5:
            raise ValueError(f"trim must be in [0, 0.5), got {trim}")
        if not 0.0 < contamination < 0.5:
            raise ValueError(f"contamination must be in (0, 0.5), got {contamination}")
        self.config: dict[str, Any] = {
            "kind": kind,
            "hidden": [check_int("hidden sizes", h) for h in hidden],
            "latent_dim": check_int("latent_dim", latent_dim),
            "epochs": check_int("epochs", epochs),
            "batch_size": check_int("batch_size", batch_size),
            "lr": float(lr),
            "beta": float(beta),
            "trim": float(trim),
            "contamination": float(contamination),
            "score_space": score_space,
            "forest_trees": check_int("forest_trees", forest_trees),
            "rotation_steps": None if rotation_steps is None else check_int("rotation_steps", rotation_steps),
            "scaling": scaling,
            "nan_policy": nan_policy,
            "clip": clip,
            "seed": int(seed),
        }
        self.preprocessor = Preprocessor(nan_policy=nan_policy, scaling=scaling, clip=clip)
        self.net: TabularAutoEncoder | None = None
        self.gaussian: RobustGaussian | None = None
        self.threshold: float | None = None
        # the ensemble's other members and how their scores are standardised and weighted
        self.forest: IsolationForestScorer | None = None
        self.ecod: ECODScorer | None = None
        self.rotation: RotationNet | None = None
        self.parts: dict[str, tuple[float, ScoreStandardiser]] = {}
        self.column_roles = ColumnRoles(features=[])  # filled by a fit on a DataFrame
        self._report: dict[str, Any] = {}

    # ------------------------------------------------------------------ training
    def _train(
        self, x: Tensor, seed: int, *, desc: str, callbacks: Sequence[Any], threads: int | None
    ) -> tuple[TabularAutoEncoder, float]:
        """Train one autoencoder on ``x`` in a :class:`~aigc_sdk.training.FitLoop`; return it (in
        eval mode) and its last-epoch loss (mean over the rows of that epoch)."""
        c = self.config
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(seed)
            net = TabularAutoEncoder(
                x.shape[1], tuple(c["hidden"]), c["latent_dim"], self._net_kind, c["beta"]
            )
        gen = torch.Generator().manual_seed(seed)
        bs = min(c["batch_size"], len(x))
        steps_per_epoch = math.ceil(len(x) / bs)
        opt = torch.optim.Adam(net.parameters(), lr=c["lr"])
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, c["lr"], total_steps=c["epochs"] * steps_per_epoch)
        net.train()
        last = float("nan")
        loop = FitLoop(
            model=net,
            total=c["epochs"] * steps_per_epoch,
            desc=desc,
            callbacks=callbacks,
            num_threads=threads,
            # A sum-of-squares loss on unbounded features has no natural scale: only a
            # non-finite loss means divergence.
            divergence_threshold=None,
        )
        try:
            with loop:
                for _ in range(c["epochs"]):
                    perm = torch.randperm(len(x), generator=gen)
                    total, seen = 0.0, 0
                    for i in range(0, len(x), bs):
                        xb = x[perm[i : i + bs]]
                        loss = net.loss(xb, generator=gen)
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        opt.step()
                        sched.step()
                        value = loss.item()
                        total, seen = total + value * len(xb), seen + len(xb)
                        loop.end_step({"loss": value})
                        if loop.should_stop:
                            break
                    last = total / seen
                    if loop.should_stop:
                        break
        except TrainingDivergedError as exc:
            raise TrainingDivergedError(
                f"{exc}; try scaling='robust' or a lower lr", exc.step, exc.metrics, None
            ) from exc
        return net.eval(), last

    @property
    def _net_kind(self) -> str:
        """The autoencoder's kind: the ensemble's network member is a plain autoencoder."""
        return "ae" if self.config["kind"] == "ensemble" else str(self.config["kind"])

    def _images(self, x: Tensor) -> Tensor:
        """Scaled rows back to images in their own units: the rotation CNN must see the pixels,
        not per-pixel standardised values (those differ by position, which gives rotations away)."""
        p = self.preprocessor
        assert p.center is not None and p.scale is not None and p.shape is not None
        raw = x.double() * torch.from_numpy(p.scale) + torch.from_numpy(p.center)
        return raw.float().reshape(len(x), *p.shape)

    def _train_rotation(self, images: Tensor, *, callbacks: Sequence[Any], threads: int | None) -> None:
        """Fit the rotation CNN on the training images in a FitLoop."""
        c = self.config
        bs = min(64, len(images))
        steps = c["rotation_steps"] or min(max(2 * (len(images) // bs), 150), 1000)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c["seed"])
            net = RotationNet(images.shape[1])
        gen = torch.Generator().manual_seed(c["seed"])
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loop = FitLoop(
            model=net,
            total=steps,
            desc="anomaly ensemble: rotation CNN",
            callbacks=callbacks,
            num_threads=threads,
        )
        net.train()
        with loop:
            step = 0
            while step < steps and not loop.should_stop:
                perm = torch.randperm(len(images), generator=gen)
                for i in range(0, len(images) - bs + 1, bs):
                    loss = net.loss(images[perm[i : i + bs]])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
                    loop.end_step({"loss": loss.item()})
                    if step >= steps or loop.should_stop:
                        break
        self.rotation = net.eval()

    def _member_scores(self, x: Tensor) -> dict[str, np.ndarray]:
        """Raw scores of each ensemble member on scaled rows ``x``."""
        assert self.gaussian is not None
        out: dict[str, np.ndarray] = {}
        if self.rotation is not None:
            out["rotation"] = self.rotation.score(self._images(x)).numpy()
        if self.net is not None:
            # log: whitened residual distances are heavy-tailed and would drown the others
            out["network"] = np.log1p(self.gaussian.score(self._features(x)).numpy())
        if self.forest is not None:
            out["forest"] = self.forest.score(x.numpy())
        if self.ecod is not None:
            out["ecod"] = self.ecod.score(x.numpy())
        return out

    def _raw_score(self, x: Tensor, members: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The detector's score of scaled rows ``x``: the ensemble's weighted sum (of ``members``
        when they are already computed for ``x``), or the network's."""
        if self.config["kind"] != "ensemble":
            assert self.gaussian is not None
            return self.gaussian.score(self._features(x)).numpy()
        members = self._member_scores(x) if members is None else members
        return sum((w * std(members[name]) for name, (w, std) in self.parts.items()), np.zeros(len(x)))

    def _features(self, x: Tensor) -> Tensor:
        assert self.net is not None
        code, resid = self.net.embed(x)
        space = self.config["score_space"]
        if space == "residual":
            return resid
        return code if space == "latent" else torch.cat([resid, code], dim=1)

    def fit(
        self,
        data: Any,
        *,
        label_column: str | None = None,
        id_columns: str | list[str] | None = None,
        exclude: str | list[str] | None = None,
        detect_columns: bool = True,
        num_threads: int | None = None,
        callbacks: Sequence[Any] = (),
        **options: Any,
    ) -> Detector:
        """Fit on unlabelled training data ``(N, D)`` (DataFrame/array/tensor) or images ``(N, C, H, W)``.

        Args:
            data: the training rows.
            label_column: a DataFrame column holding ground truth (kept out of the features;
                when it is 0/1 the report gets ``train_evaluation`` with ROC-AUC and AP).
            id_columns: DataFrame column(s) identifying rows, kept out of the features.
            exclude: further DataFrame column(s) to keep out of the features.
            detect_columns: also leave out columns that look like labels or IDs, with an
                :class:`~aigc_anomaly.columns.ExcludedColumnsWarning` naming them.
            num_threads: torch intra-op threads for the fit (restored afterwards).
            callbacks: objects with lifecycle methods (``on_fit_start``, ``on_train_step_end``,
                ``on_fit_end``; see :class:`~aigc_sdk.training.Callback`). Each network's
                training is one fit for them: the first fit, then the refit on the kept rows
                (``trim > 0``); steps carry ``{"loss": ...}``. ``trainer.request_stop(reason)``
                ends that training early.
            **options: override constructor settings (e.g. ``epochs=5``).

        The excluded columns are saved with the detector, so scoring drops them too.
        """
        unknown = set(options) - set(self.config)
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}; valid: {sorted(self.config)}")
        threads = _threads_arg(num_threads)
        declared = label_column is not None or id_columns is not None or exclude is not None
        if declared and not is_frame(data):
            raise ValueError(
                "fit: label_column=, id_columns= and exclude= need a DataFrame (named columns), "
                f"got {type(data).__name__}"
            )
        if options:
            self.__init__(**{**self.config, **options})  # type: ignore[misc]  # re-validate
        roles = ColumnRoles(features=[])
        if is_frame(data):
            roles = split_columns(
                data, label_column=label_column, id_columns=id_columns, exclude=exclude, detect=detect_columns
            )
            by_name = {str(c): c for c in data.columns}
            labels = _binary_labels(data[by_name[roles.label]]) if roles.label else None
            data = data[[by_name[c] for c in roles.features]]
        else:
            labels = None
        # The whole fit runs with the thread count, not only the trainings (each FitLoop sets the
        # same count): the whitening and the training scores after them are part of the result.
        with torch_threads.num_threads(threads):
            self._fit(data, roles, labels, list(callbacks), threads)
        return self

    def _fit(
        self,
        data: Any,
        roles: ColumnRoles,
        labels: tuple[np.ndarray, np.ndarray] | None,
        callbacks: list[Any],
        threads: int | None,
    ) -> None:
        c = self.config
        t0 = time.perf_counter()
        x = torch.from_numpy(self.preprocessor.fit(data))
        if len(x) < 10:
            raise ValueError(f"need at least 10 training rows, got {len(x)}")
        self.net = self.rotation = self.forest = self.ecod = None
        self.parts = {}
        images = c["kind"] == "ensemble" and _is_image_shape(self.preprocessor.shape)
        loss1 = loss2 = None
        kept = len(x)
        if images:
            self._train_rotation(self._images(x), callbacks=callbacks, threads=threads)
        else:
            self.net, loss1 = self._train(
                x, c["seed"], desc=f"anomaly {c['kind']}: fit", callbacks=callbacks, threads=threads
            )
        if self.net is not None and c["trim"] > 0:
            code, _ = self.net.embed(x)
            dist = RobustGaussian(keep=1.0 - c["trim"]).fit(code).score(code)
            mask = dist <= torch.quantile(dist, 1.0 - c["trim"])
            kept = int(mask.sum())
            self.net, loss2 = self._train(
                x[mask],
                c["seed"] + 1,
                desc=f"anomaly {c['kind']}: refit",
                callbacks=callbacks,
                threads=threads,
            )
        self.gaussian = RobustGaussian(keep=1.0 - c["trim"] if c["trim"] > 0 else 0.9)
        if self.net is not None:
            self.gaussian.fit(self._features(x))
        if c["kind"] == "ensemble":
            self.forest = IsolationForestScorer(c["forest_trees"], seed=c["seed"]).fit(x.numpy())
            if not images:
                self.ecod = ECODScorer().fit(x.numpy())
            weights = IMAGE_WEIGHTS if images else TABULAR_WEIGHTS
            members = self._member_scores(x)
            self.parts = {name: (w, ScoreStandardiser().fit(members[name])) for name, w in weights.items()}
        # the ensemble's training members were just scored for the standardisers: reuse them
        train_scores = torch.from_numpy(self._raw_score(x, members if self.parts else None))
        self.threshold = float(torch.quantile(train_scores, 1.0 - c["contamination"]))
        self.column_roles = roles
        self._report = {
            "use_case": self.name,
            "config": dict(c),
            "n_train": len(x),
            "n_features": int(x.shape[1]),
            "members": list(self.parts) or ["network"],
            "n_kept_for_refit": kept,
            "loss_first_fit": loss1,
            "loss_refit": loss2,
            "threshold": self.threshold,
            "fit_seconds": time.perf_counter() - t0,
            "torch_threads": torch.get_num_threads(),
        }
        if self.preprocessor.columns is not None:
            self._report["columns"] = {
                "features": list(self.preprocessor.columns),
                **roles.metadata(),
                "auto_excluded": dict(roles.reasons),
            }
        if labels is not None:
            # The labels never reach the training; this is the unsupervised detector measured on
            # its own training rows, with the same keys as evaluate()'s "evaluation".
            rows, y = labels
            metrics = anomaly_metrics(train_scores.numpy()[rows], y)
            self._report["train_evaluation"] = {
                **metrics,
                "n": len(y),
                "anomaly_rate": float(y.mean()),
                "label_column": roles.label,
            }

    # ------------------------------------------------------------------ inference
    def _check_fitted(self) -> None:
        if (self.net is None and self.rotation is None) or self.gaussian is None:
            raise RuntimeError("Detector is not fitted; call fit(X) or Detector.load(dir) first")

    def _matrix(self, data: Any, where: str) -> Tensor:
        """Scaled float32 rows of ``data``: a DataFrame is first matched to the fitted columns."""
        fitted = self.preprocessor.columns
        if is_frame(data) and fitted is not None:
            data = align_columns(data, fitted, self.column_roles.excluded, where)
        return torch.from_numpy(
            self.preprocessor.transform(data, where=where, excluded=self.column_roles.excluded)
        )

    @torch.no_grad()
    def score(self, data: Any, *, num_threads: int | None = None) -> np.ndarray:
        """Anomaly score per row (float64, higher = more anomalous).

        A DataFrame may carry the columns excluded at fit (label, IDs; they are dropped) and
        the features in any order; missing or unknown columns raise a ``ValueError`` naming
        them. Raw arrays must have the fitted feature columns, in the fitted order.
        ``num_threads`` sets torch's intra-op threads for the call (restored afterwards).
        """
        self._check_fitted()
        assert self.gaussian is not None
        threads = _threads_arg(num_threads)
        x = self._matrix(data, "score")
        with torch_threads.num_threads(threads):
            return self._raw_score(x)

    def predict(self, data: Any, *, num_threads: int | None = None) -> np.ndarray:
        """1 for rows scoring above the contamination threshold, else 0 (int64)."""
        self._check_fitted()
        return (self.score(data, num_threads=num_threads) > self.threshold).astype(np.int64)

    def evaluate(self, data: Any, labels: Any = None, *, num_threads: int | None = None) -> dict[str, float]:
        """ROC-AUC and average precision of :meth:`score` against binary ``labels`` (1 = anomaly);
        the result is added to :meth:`report` as ``evaluation``.

        Without ``labels``, a DataFrame's label column (the one found or declared at fit) is used.
        """
        if labels is None:
            label = self.column_roles.label
            if label is None or not is_frame(data) or label not in [str(c) for c in data.columns]:
                raise ValueError(
                    "evaluate: pass labels=, or a DataFrame with the label column found at fit"
                    + (f" ({label!r})" if label else " (this detector has none)")
                )
            labels = data[{str(c): c for c in data.columns}[label]].to_numpy()
        y = np.asarray(labels).reshape(-1)
        scores = self.score(data, num_threads=num_threads)
        if len(y) != len(scores):
            raise ValueError(f"labels has {len(y)} rows, X has {len(scores)}")
        if not set(np.unique(y).tolist()) <= {0, 1} or len(np.unique(y)) != 2:
            raise ValueError("labels must be binary 0/1 with both classes present")
        metrics = anomaly_metrics(scores, y)
        self._report["evaluation"] = {**metrics, "n": len(y), "anomaly_rate": float(y.mean())}
        return metrics

    def report(self) -> dict[str, Any]:
        """JSON-serialisable summary of the last fit (and evaluation, if any)."""
        if not self._report:
            raise RuntimeError("nothing to report yet; call fit(X) first")
        return json.loads(json.dumps(self._report))

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` atomically (no pickle)."""
        from aigc_sdk.io import save_artifact

        self._check_fitted()
        prep_cfg, tensors = self.preprocessor.state()
        if self.net is not None:
            assert self.gaussian is not None
            assert self.gaussian.mean is not None and self.gaussian.precision is not None
            tensors.update({f"net.{k}": v for k, v in self.net.state_dict().items()})
            tensors["gauss.mean"] = self.gaussian.mean
            tensors["gauss.precision"] = self.gaussian.precision
        if self.rotation is not None:
            tensors.update({f"rotation.{k}": v for k, v in self.rotation.state_dict().items()})
        if self.forest is not None:
            tensors.update(self.forest.state("forest."))
        if self.ecod is not None:
            assert self.ecod.sorted is not None and self.ecod.skew_sign is not None
            tensors["ecod.sorted"], tensors["ecod.skew_sign"] = self.ecod.sorted, self.ecod.skew_sign
        meta = {
            "format": FORMAT,
            "format_version": 1,
            "config": self.config,
            "preprocessor": prep_cfg,
            "in_dim": int(np.prod(self.preprocessor.shape or (0,))),
            "ensemble": {
                name: {"weight": w, "center": z.center, "spread": z.spread}
                for name, (w, z) in self.parts.items()
            },
            "threshold": self.threshold,
            "columns": self.column_roles.metadata(),  # so scoring drops the same columns
            "report": self._report,
        }
        return save_artifact(directory, tensors, meta)

    @classmethod
    def load(cls, directory: str | Path) -> Detector:
        """Rebuild a detector written by :meth:`save`."""
        from aigc_sdk.io import load_artifact

        meta, tensors = load_artifact(directory, FORMAT, "anomaly detector")
        det = cls(**meta["config"])
        det.preprocessor = Preprocessor.from_state(meta["preprocessor"], tensors)
        c = det.config
        det.gaussian = RobustGaussian()
        if "gauss.mean" in tensors:
            det.net = TabularAutoEncoder(
                meta["in_dim"], tuple(c["hidden"]), c["latent_dim"], det._net_kind, c["beta"]
            )
            det.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
            det.net.eval()
            det.gaussian.mean, det.gaussian.precision = tensors["gauss.mean"], tensors["gauss.precision"]
        if "rotation.head.weight" in tensors:
            shape = det.preprocessor.shape
            assert shape is not None
            det.rotation = RotationNet(shape[0])
            det.rotation.load_state_dict({k[9:]: v for k, v in tensors.items() if k.startswith("rotation.")})
            det.rotation.eval()
        if "forest.roots" in tensors:
            det.forest = IsolationForestScorer.from_state(tensors, "forest.")
        if "ecod.sorted" in tensors:
            det.ecod = ECODScorer()
            det.ecod.sorted, det.ecod.skew_sign = tensors["ecod.sorted"], tensors["ecod.skew_sign"]
        det.parts = {
            name: (float(p["weight"]), ScoreStandardiser(float(p["center"]), float(p["spread"])))
            for name, p in (meta.get("ensemble") or {}).items()
        }
        det.threshold = meta["threshold"]
        roles = meta.get("columns") or {}  # absent in detectors saved before it was recorded
        det.column_roles = ColumnRoles(
            features=list(det.preprocessor.columns or []),
            label=roles.get("label"),
            ids=list(roles.get("ids", [])),
            excluded=list(roles.get("excluded", [])),
        )
        det._report = meta.get("report", {})
        return det


def anomaly_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ROC-AUC and AP through the SDK's ``anomaly`` evaluator, or scikit-learn without it."""
    try:
        from aigc_sdk import get_evaluator

        ev = get_evaluator("anomaly")
        ev.update(scores=scores, labels=labels)
        out = ev.compute()
        return {"roc_auc": float(out["roc_auc"]), "average_precision": float(out["average_precision"])}
    except (LookupError, KeyError, ImportError):
        from sklearn.metrics import average_precision_score, roc_auc_score

        return {
            "roc_auc": float(roc_auc_score(labels, scores)),
            "average_precision": float(average_precision_score(labels, scores)),
        }
