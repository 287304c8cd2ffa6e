"""The ``recommend`` use-case: Mult-VAE / Mult-DAE top-K recommendation with fold-in, blended by
default with a closed-form linear item autoencoder.

Users are never embedded by id: a user *is* their item history, so recommending for a user
not seen in training ("fold-in") is the same forward pass as for a known one.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from aigc_recommend.interactions import ItemIndex, as_matrix, frame_to_matrix, histories_to_matrix
from aigc_recommend.linear import MAX_ITEMS, ItemLinearAE
from aigc_recommend.metrics import ndcg_at_k, recall_at_k
from aigc_recommend.networks import BlendedScorer, MultEnsemble, MultNet
from aigc_sdk.interfaces import UseCase
from aigc_sdk.io import format_tag
from aigc_sdk.training import FitLoop, TrainingDivergedError
from aigc_sdk.validation import check_int

FORMAT = format_tag("recommender")


def _member_seed(seed: int, j: int) -> int:
    """Seed of ensemble member ``j`` (member 0 uses ``seed`` itself)."""
    return seed if j == 0 else int(np.random.SeedSequence([seed, j]).generate_state(1)[0])


def _member_kinds(config: Mapping[str, Any]) -> list[str]:
    """Kind of each network of the average, in member order."""
    return [config["kind"]] * config["ensemble"] + ["multdae"] * config.get("dae_members", 0)


def _scorer(
    nets: list[MultNet], linear: ItemLinearAE | None, weight: float
) -> MultNet | MultEnsemble | BlendedScorer:
    """The model that ranks: one network or their ensemble, blended with ``linear`` when given."""
    neural = nets[0] if len(nets) == 1 else MultEnsemble(nets)
    return neural if linear is None else BlendedScorer(neural, linear, weight)


def _pos_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class Recommender(UseCase):
    """Mult-VAE (``kind="multvae"``) or Mult-DAE (``"multdae"``) recommender, by default blended with a
    linear item autoencoder (``linear_weight``).

    Args:
        kind: ``"multvae"`` or ``"multdae"``.
        hidden, latent_dim: the 1-hidden-layer tanh MLP (paper, for ML-20M: 600 and 200).
            Defaults (300, 100, batch 100, lr 3e-3, 40 epochs, 3 members) were chosen on the
            validation users of MovieLens-100k; the paper's setting is ``hidden=600, latent_dim=200,
            batch_size=500, lr=1e-3, epochs=200, anneal_steps=200_000, ensemble=1``.
        dropout: input dropout on the L2-normalised history.
        epochs, batch_size, lr, weight_decay: Adam training.
        beta, anneal_steps: KL weight annealed linearly from 0 to ``beta`` over ``anneal_steps``
            optimiser steps (VAE only). ``None`` (default) scales the schedule to the run:
            ``epochs * ceil(users / batch_size)`` steps, so beta reaches its cap at the last epoch
            whatever the data size (a fixed 200k steps, as on ML-20M, leaves beta ~0 on small data).
        ensemble: number of independently seeded ``kind`` networks whose predicted item distributions
            are averaged (each picks its own best validation epoch); costs ``ensemble`` times the fit.
        dae_members: Mult-DAE networks added to that average (a mixed ensemble; 2 Mult-VAEs + 2
            Mult-DAEs raised validation NDCG@100 on MovieLens-100k from 0.447 to 0.451 but not the
            test figures beyond seed noise, so the default stays 0).
        linear_weight: share in ``[0, 1)`` of a linear item autoencoder (EASE, Steck 2019; closed
            form, see :mod:`aigc_recommend.linear`) in the ranking: the final score is ``(1 - w) *
            z(networks) + w * z(linear)`` with per-user standardised scores. ``0`` gives the pure
            Mult-VAE / Mult-DAE. It costs one ``items x items`` inverse (under a second for 1,500 items;
            at most 20,000 items) and an ``items x items`` weight in the saved model.
        linear_l2: ridge penalty of the linear autoencoder (> 0). The defaults (0.2, 300) were chosen on
            the validation users of MovieLens-100k, where validation NDCG@100 is flat (0.450-0.454)
            for weights 0.15-0.3 and penalties 200-400.
        seed: makes fit and recommendations bitwise reproducible on CPU (member ``j > 0`` of an
            ensemble is seeded from ``(seed, j)``).

    Each network's training runs in a :class:`~aigc_sdk.training.FitLoop`: ``fit(callbacks=...)``
    and installed plugins get the lifecycle hooks, and a non-finite loss raises
    :class:`~aigc_sdk.training.TrainingDivergedError`.
    """

    name: ClassVar[str] = "recommend"
    artifact_format: ClassVar[str | None] = FORMAT

    def __init__(
        self,
        kind: str = "multvae",
        *,
        hidden: int = 300,
        latent_dim: int = 100,
        dropout: float = 0.5,
        epochs: int = 40,
        batch_size: int = 100,
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        beta: float = 0.2,
        anneal_steps: int | None = None,
        ensemble: int = 3,
        dae_members: int = 0,
        linear_weight: float = 0.2,
        linear_l2: float = 300.0,
        seed: int = 0,
    ) -> None:
        if kind not in ("multvae", "multdae"):
            raise ValueError(f"kind must be 'multvae' or 'multdae', got {kind!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= linear_weight < 1.0:
            raise ValueError(f"linear_weight must be in [0, 1), got {linear_weight}")
        if not linear_l2 > 0:
            raise ValueError(f"linear_l2 must be > 0, got {linear_l2}")
        self.config: dict[str, Any] = {
            "kind": kind,
            "hidden": _pos_int(hidden, "hidden"),
            "latent_dim": _pos_int(latent_dim, "latent_dim"),
            "dropout": float(dropout),
            "epochs": _pos_int(epochs, "epochs"),
            "batch_size": _pos_int(batch_size, "batch_size"),
            "lr": float(lr),
            "weight_decay": float(weight_decay),
            "beta": float(beta),
            "anneal_steps": None if anneal_steps is None else _pos_int(anneal_steps, "anneal_steps"),
            "ensemble": _pos_int(ensemble, "ensemble"),
            "dae_members": check_int("dae_members", dae_members, minimum=0),
            "linear_weight": float(linear_weight),
            "linear_l2": float(linear_l2),
            "seed": int(seed),
        }
        self.items: ItemIndex | None = None
        self.net: MultNet | MultEnsemble | BlendedScorer | None = None
        self.train_users: list[Any] = []
        self._train_matrix: np.ndarray | None = None
        self._report: dict[str, Any] = {}

    # ------------------------------------------------------------------ fit
    def _matrix(self, data: Any, frame_options: dict[str, Any], fit: bool) -> tuple[np.ndarray, list[Any]]:
        if hasattr(data, "columns"):
            mat, users, items = frame_to_matrix(data, items=None if fit else self.items, **frame_options)
            if fit:
                self.items = items
            return mat, users
        mat = as_matrix(data, None if fit else len(self._items()))
        if fit:
            self.items = ItemIndex(list(range(mat.shape[1])))
        return mat, list(range(len(mat)))

    def _items(self) -> ItemIndex:
        if self.items is None or self.net is None:
            raise RuntimeError("Recommender is not fitted; call fit(...) or Recommender.load(dir) first")
        return self.items

    def fit(
        self,
        data: Any,
        *,
        validation: tuple[Any, Any] | None = None,
        user_col: str = "user_id",
        item_col: str = "item_id",
        rating_col: str | None = None,
        min_rating: float | None = None,
        callbacks: Sequence[Any] = (),
        **options: Any,
    ) -> Recommender:
        """Train on interactions: a DataFrame of ``(user, item[, rating])`` rows or a binary
        ``(users, items)`` matrix.

        ``validation=(fold_in, heldout)`` (two ``(users, items)`` matrices over the same items)
        selects the epoch with the best validation NDCG@100; without it the last epoch is kept.
        ``callbacks`` are objects with lifecycle methods (``on_fit_start``, ``on_train_step_end``,
        ``on_fit_end``; see :class:`~aigc_sdk.training.Callback`): each network of the ensemble is
        one fit for them, its optimiser steps carry ``{"loss": ...}``, and
        ``trainer.request_stop(reason)`` ends that network's training after the current step
        (the partial epoch is still validated). ``options`` override constructor settings.
        """
        unknown = set(options) - set(self.config)
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)}; valid: {sorted(self.config)}")
        if options:
            self.__init__(**{**self.config, **options})  # type: ignore[misc]  # re-validate
        c = self.config
        frame_options = {
            "user_col": user_col,
            "item_col": item_col,
            "rating_col": rating_col,
            "min_rating": min_rating,
        }
        t0 = time.perf_counter()
        mat, users = self._matrix(data, frame_options, fit=True)
        mat = mat[mat.sum(1) > 0]
        if len(mat) < 2:
            raise ValueError("need at least 2 users with interactions to fit")
        if c["linear_weight"] > 0 and mat.shape[1] > MAX_ITEMS:  # fail before training, not after
            raise ValueError(
                f"linear_weight > 0 fits an items x items linear autoencoder, limited to {MAX_ITEMS} items; "
                f"got {mat.shape[1]} items: pass linear_weight=0"
            )
        val = None
        if validation is not None:
            fold, held = (torch.from_numpy(as_matrix(v, mat.shape[1])) for v in validation)
            if fold.shape != held.shape:
                raise ValueError("validation fold-in and held-out matrices must have the same shape")
            val = (fold, held)
        x = torch.from_numpy(mat)
        bs = min(c["batch_size"], len(x))
        total_steps = c["epochs"] * math.ceil(len(x) / bs)
        anneal = c["anneal_steps"] if c["anneal_steps"] is not None else total_steps
        members, fits, stops = [], [], []
        kinds = _member_kinds(c)
        for j, kind in enumerate(kinds):
            desc = f"recommend {kind}" + (f" {j + 1}/{len(kinds)}" if len(kinds) > 1 else "")
            net, fitted, stop = self._fit_member(
                x, val, _member_seed(c["seed"], j), bs, anneal, kind, desc=desc, callbacks=callbacks
            )
            members.append(net)
            fits.append(fitted)
            stops.append(stop)
        linear = ItemLinearAE.fit(x, c["linear_l2"]) if c["linear_weight"] > 0 else None
        self.net = _scorer(members, linear, c["linear_weight"])
        self.net.eval()
        best = None
        if val is not None:
            single = self.net is members[0]
            best = fits[0][1] if single else ndcg_at_k(self._masked_scores(val[0]), val[1], 100)
        self.train_users, self._train_matrix = users, mat
        self._report = {
            "use_case": self.name,
            "config": dict(c),
            "n_users": len(mat),
            "n_items": int(mat.shape[1]),
            "n_interactions": int(mat.sum()),
            "epochs_run": c["epochs"],
            "anneal_steps": anneal if c["kind"] == "multvae" else None,
            "best_epoch": fits[0][0],
            "member_best_epochs": [f[0] for f in fits],
            "member_validation_ndcg@100": [f[1] for f in fits] if val is not None else None,
            "validation_ndcg@100": best,
            "fit_seconds": time.perf_counter() - t0,
            "torch_threads": torch.get_num_threads(),
        }
        if any(s is not None for s in stops):  # a callback ended some training early
            self._report["member_stop_reasons"] = stops
        return self

    def _fit_member(
        self,
        x: Tensor,
        val: tuple[Tensor, Tensor] | None,
        seed: int,
        bs: int,
        anneal: int,
        kind: str,
        *,
        desc: str,
        callbacks: Sequence[Any],
    ) -> tuple[MultNet, tuple[int, float | None], str | None]:
        """Train one network in a :class:`~aigc_sdk.training.FitLoop`; with ``val``, keep its
        epoch of best validation NDCG@100. Also returns why a callback stopped it (or None)."""
        c = self.config
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(seed)
            net = MultNet(x.shape[1], c["hidden"], c["latent_dim"], kind, c["dropout"])
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(net.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
        step, best, best_epoch, best_state = 0, -math.inf, c["epochs"], None
        loop = FitLoop(model=net, total=c["epochs"] * math.ceil(len(x) / bs), desc=desc, callbacks=callbacks)
        try:
            with loop:
                for epoch in range(1, c["epochs"] + 1):
                    net.train()
                    perm = torch.randperm(len(x), generator=gen)
                    for i in range(0, len(x), bs):
                        beta = c["beta"] * min(1.0, step / anneal) if kind == "multvae" else 0.0
                        loss = net.loss(x[perm[i : i + bs]], beta, generator=gen)
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        opt.step()
                        step += 1
                        loop.end_step({"loss": loss.item()})
                        if loop.should_stop:
                            break
                    if val is not None:
                        net.eval()
                        scores = net.scores(val[0]).masked_fill(val[0] > 0, -math.inf)
                        score = ndcg_at_k(scores, val[1], 100)
                        if score > best:
                            best, best_epoch, best_state = score, epoch, copy.deepcopy(net.state_dict())
                    elif loop.should_stop:  # without validation the kept epoch is the last one run
                        best_epoch = epoch
                    if loop.should_stop:
                        break
        except TrainingDivergedError as exc:
            raise TrainingDivergedError(f"{exc}; lower lr", exc.step, exc.metrics, None) from exc
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        return net, (best_epoch, best if val is not None else None), loop.stop_reason

    # ------------------------------------------------------------------ inference
    def _masked_scores(self, fold_in: Tensor) -> Tensor:
        assert self.net is not None
        s = self.net.scores(fold_in)
        return s.masked_fill(fold_in > 0, -math.inf)

    def score_matrix(self, fold_in: Any, *, exclude_seen: bool = True) -> np.ndarray:
        """Item scores ``(users, items)`` for a binary fold-in matrix; seen items get -inf."""
        items = self._items()
        assert self.net is not None
        x = torch.from_numpy(as_matrix(fold_in, len(items)))
        s = self._masked_scores(x) if exclude_seen else self.net.scores(x)
        return s.numpy()

    def recommend(
        self,
        user_items: Mapping[Any, Iterable[Any]] | Sequence[Iterable[Any]],
        k: int = 20,
        *,
        exclude_seen: bool = True,
    ) -> dict[Any, list[Any]] | list[list[Any]]:
        """Top-``k`` item ids per user from their item histories (fold-in; users need not be known).

        ``user_items`` is ``{user: [item ids]}`` (returns ``{user: [k item ids]}``) or a list of
        item-id lists (returns a list of lists). Unknown item ids raise ``ValueError``.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise ValueError(f"k must be a positive int, got {k!r}")
        items = self._items()
        mat, keys = histories_to_matrix(user_items, items)
        s = torch.from_numpy(self.score_matrix(mat, exclude_seen=exclude_seen))
        kk = min(int(k), len(items) - (int(mat.sum(1).max()) if exclude_seen else 0))
        if kk <= 0:
            raise ValueError("a user has already interacted with every item; nothing left to recommend")
        top = s.topk(kk, dim=1).indices.tolist()
        recs = [[items.ids[j] for j in row] for row in top]
        return dict(zip(keys, recs)) if isinstance(user_items, Mapping) else recs

    def recommend_known(
        self, users: Iterable[Any], k: int = 20, *, exclude_seen: bool = True
    ) -> dict[Any, list[Any]]:
        """Top-``k`` for users seen in training, from their stored histories; unknown ids raise."""
        items = self._items()
        assert self._train_matrix is not None
        pos = {u: i for i, u in enumerate(self.train_users)}
        users = list(users)
        unknown = [u for u in users if u not in pos]
        if unknown:
            raise ValueError(
                f"unknown user ids {unknown[:5]}; pass their item histories to recommend() instead"
            )
        hist = {u: [items.ids[j] for j in np.flatnonzero(self._train_matrix[pos[u]])] for u in users}
        out = self.recommend(hist, k, exclude_seen=exclude_seen)
        assert isinstance(out, dict)
        return out

    def evaluate(
        self, fold_in: Any, heldout: Any, *, ks: tuple[int, ...] = (20, 50, 100)
    ) -> dict[str, float]:
        """Recall@K and NDCG@K of held-out items given fold-in histories (both ``(users, items)``)."""
        items = self._items()
        held = as_matrix(heldout, len(items))
        scores = self.score_matrix(fold_in)
        if held.shape != scores.shape:
            raise ValueError(f"heldout shape {held.shape} differs from fold-in shape {scores.shape}")
        metrics = ranking_metrics(scores, held, ks)
        self._report["evaluation"] = {**metrics, "n_users": int((held.sum(1) > 0).sum())}
        return metrics

    def report(self) -> dict[str, Any]:
        """JSON-serialisable summary of the last fit (and evaluation, if any)."""
        if not self._report:
            raise RuntimeError("nothing to report yet; call fit(...) first")
        return json.loads(json.dumps(self._report, default=str))

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` atomically (no pickle).

        Item ids are stored in JSON, so they must be JSON types (int / str)."""
        from aigc_sdk.io import save_artifact

        items = self._items()
        assert self.net is not None
        bad = [i for i in items.ids[:1000] if not isinstance(i, (int, str))]
        if bad:
            raise ValueError(f"item ids must be int or str to be saved, got {type(bad[0]).__name__}")
        meta = {
            "format": FORMAT,
            "format_version": 3,
            "config": self.config,
            "items": items.ids,
            "n_items": len(items),
            "report": self.report(),
        }
        return save_artifact(directory, dict(self.net.state_dict()), meta)

    @classmethod
    def load(cls, directory: str | Path) -> Recommender:
        """Rebuild a recommender written by :meth:`save` (training histories are not stored)."""
        from aigc_sdk.io import load_artifact

        meta, tensors = load_artifact(directory, FORMAT, "recommender")
        # version-1 saves hold a single network; version-2 saves have no dae_members (older) and
        # no linear part
        rec = cls(**{"ensemble": 1, "dae_members": 0, "linear_weight": 0.0, **meta["config"]})
        c = rec.config
        rec.items = ItemIndex([i if isinstance(i, str) else int(i) for i in meta["items"]])
        nets = [
            MultNet(meta["n_items"], c["hidden"], c["latent_dim"], kind, c["dropout"])
            for kind in _member_kinds(c)
        ]
        linear = ItemLinearAE(meta["n_items"]) if c["linear_weight"] > 0 else None
        rec.net = _scorer(nets, linear, c["linear_weight"])
        rec.net.load_state_dict(tensors)
        rec.net.eval()
        rec._report = meta.get("report", {})
        return rec


def ranking_metrics(scores: np.ndarray, heldout: np.ndarray, ks: tuple[int, ...]) -> dict[str, float]:
    """Recall@K / NDCG@K through the SDK's ``recommend`` evaluator, or :mod:`aigc_recommend.metrics`."""
    try:
        from aigc_sdk import get_evaluator

        ev = get_evaluator("recommend", ks=tuple(ks))
        ev.update(scores=np.where(np.isfinite(scores), scores, -1e30), heldout=heldout)
        return {k: float(v) for k, v in ev.compute().items()}
    except (LookupError, ImportError):
        s, h = torch.from_numpy(scores), torch.from_numpy(heldout)
        out: dict[str, float] = {}
        for k in ks:
            out[f"recall@{k}"] = recall_at_k(s, h, k)
            out[f"ndcg@{k}"] = ndcg_at_k(s, h, k)
        return out
