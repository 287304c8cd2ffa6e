"""The :class:`Synthesizer` use-case: fit a generative model on a table, sample new rows.

Two model kinds share one data pipeline (:mod:`aigc_synth.columns` for column roles,
:mod:`aigc_synth.transformer` for the encoding):

* ``"tvae"`` (:mod:`aigc_synth.tvae`) — a variational autoencoder over the encoded rows,
  conditional on the ``target`` when one is given; differentially-private fitting in
  :mod:`aigc_synth.privacy`.
* ``"ctgan"`` (:mod:`aigc_synth.ctgan`) — a conditional WGAN-GP with PacGAN critic, conditional
  vectors and training-by-sampling over every categorical column.

This module holds what both share: options, input checks, fit dispatch, sampling (with
rejection for conditions a model cannot steer), the report and persistence. Everything that is
fitted is saved as ``config.json`` + ``model.safetensors``; nothing is ever pickled. Fitting and
sampling are bitwise reproducible on CPU for a given seed.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from aigc_sdk import threads as torch_threads
from aigc_sdk.interfaces import UseCase
from aigc_sdk.io import format_tag
from aigc_sdk.validation import check_int
from aigc_synth import ctgan, tvae
from aigc_synth.columns import ID_POLICIES, ColumnPlan
from aigc_synth.conditions import ConditionSampler
from aigc_synth.inputs import as_frame, prepare_fit
from aigc_synth.networks import BlockLayout, CTGANGenerator, TabularVAE
from aigc_synth.privacy import fit_tvae_private
from aigc_synth.transformer import TableTransformer

FORMAT = format_tag("synthesizer")
KINDS = ("tvae", "ctgan")
# options of both kinds: identifier columns (aigc_synth.columns) and the post-fit privacy report
_COMMON: dict[str, Any] = {"id_columns": None, "id_policy": "generate", "privacy_rows": 2000}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "tvae": {**tvae.DEFAULTS, **_COMMON},
    "ctgan": {**ctgan.DEFAULTS, **_COMMON},
}


class Synthesizer(UseCase):
    """Synthetic tabular data: ``Synthesizer(kind="tvae").fit(df, target="y").sample(1000)``.

    Keyword options (defaults depend on ``kind``): ``epochs``, ``batch_size``, ``hidden``,
    ``latent_dim``, ``lr``, ``weight_decay``, ``numeric_encoding`` (``"quantile"`` or
    ``"mode"``), for tvae ``beta``, ``latent_prior`` (``"normal"`` or ``"gmm"``),
    ``prior_components``, for ctgan ``pac``; plus ``seed`` and ``num_threads``. :meth:`fit` takes
    ``callbacks`` and ``progress`` for its training loop (an :class:`~aigc_sdk.training.FitLoop`).

    Column handling (:mod:`aigc_synth.columns`): dates and times are modelled as numbers and
    returned in their input type; identifier columns are detected (or listed in ``id_columns``)
    and, by ``id_policy``, generated fresh (``"generate"``), dropped (``"drop"``) or refused
    (``"refuse"``). ``privacy_rows`` rows are sampled after the fit for
    ``report()["fit"]["privacy_report"]`` (see :func:`aigc_synth.privacy_report.privacy_report`;
    0 skips it).

    Differential privacy (tvae): ``dp_epsilon`` turns on DP-SGD training and a private data
    encoding, for an end-to-end ``(dp_epsilon, dp_delta)`` guarantee; ``fit`` then needs a public
    ``schema``. ``dp_delta`` defaults to ``min(1e-5, 0.1 / rows)``; ``dp_max_grad_norm`` is the
    per-row gradient clip; ``dp_schema_share`` is the part of epsilon spent on the encoding's
    noisy histograms. The epsilon actually spent is in ``report()["fit"]["privacy"]``.
    """

    name: ClassVar[str] = "synth"
    artifact_format: ClassVar[str | None] = FORMAT

    def __init__(
        self,
        kind: str = "tvae",
        *,
        seed: int = 0,
        num_threads: int | None = None,
        verbose: bool = False,
        **options: Any,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        unknown = set(options) - set(_DEFAULTS[kind])
        if unknown:
            raise ValueError(
                f"unknown option(s) for kind {kind!r}: {sorted(unknown)}; known: {sorted(_DEFAULTS[kind])}"
            )
        self.kind = kind
        self.params: dict[str, Any] = {**_DEFAULTS[kind], **options}
        self.params["hidden"] = [int(h) for h in self.params["hidden"]]
        for key in ("epochs", "batch_size", "latent_dim"):
            if (
                isinstance(self.params[key], bool)
                or not isinstance(self.params[key], int)
                or self.params[key] <= 0
            ):
                raise ValueError(f"{key} must be a positive int, got {self.params[key]!r}")
        if self.params["id_policy"] not in ID_POLICIES:
            raise ValueError(f"id_policy must be one of {ID_POLICIES}, got {self.params['id_policy']!r}")
        ids = self.params["id_columns"]
        if ids is not None:
            if isinstance(ids, str) or not all(isinstance(c, str) for c in ids):
                raise ValueError(f"id_columns must be a list of column names, got {ids!r}")
            self.params["id_columns"] = list(ids)
        rows = self.params["privacy_rows"]
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0 or rows == 1:
            raise ValueError(f"privacy_rows must be 0 (no privacy report) or an int >= 2, got {rows!r}")
        (tvae if kind == "tvae" else ctgan).check_options(self.params)
        num_threads = check_int("num_threads", num_threads, allow_none=True)
        self.seed, self.num_threads, self.verbose = int(seed), num_threads, verbose
        self.transformer: TableTransformer | None = None
        self.net: torch.nn.Module | None = None
        self.target: str | None = None
        self.discrete_columns: list[str] = []
        self.cond_sampler: ConditionSampler | None = None
        self.prior: dict[str, Tensor] | None = None
        self.fit_info: dict[str, Any] = {}
        self.evaluation: dict[str, Any] | None = None
        self.plan: ColumnPlan | None = None

    # ------------------------------------------------------------------ fit
    def fit(  # type: ignore[override]
        self,
        data: pd.DataFrame,
        discrete_columns: Sequence[str] | None = None,
        target: str | None = None,
        schema: dict[str, dict[str, Any]] | None = None,
        id_columns: Sequence[str] | None = None,
        *,
        callbacks: Sequence[Any] = (),
        progress: bool | None = False,
    ) -> Synthesizer:
        """Fit on ``data``; categorical columns are inferred from dtypes unless given.

        ``target`` (a categorical column) makes the tvae model conditional on it. ``schema``
        (required with ``dp_epsilon``, see :meth:`TableTransformer.fit_private`) gives public facts
        per column: ``{"min": lo, "max": hi}`` for numeric, ``{"categories": [...]}`` for categorical.
        ``id_columns`` (default: the ``id_columns`` option; None detects them) lists identifier
        columns, which are not modelled (see ``id_policy``). Warns (``UserWarning``) about each
        detected identifier column and, without a ``target``, about a column that looks like a label.

        The training loop runs in a :class:`~aigc_sdk.training.FitLoop`: ``callbacks`` (objects with
        ``on_fit_start`` / ``on_train_step_end`` / ``on_fit_end``, e.g.
        :class:`~aigc_sdk.training.EarlyStopping`) and installed plugins' lifecycle hooks see every
        optimisation step with its losses; ``progress`` shows a progress bar (``None``: only on a
        terminal). A NaN/inf (or absurdly large) loss raises
        :class:`~aigc_sdk.training.TrainingDivergedError` naming the step; a fit that raises leaves
        the synthesizer unfitted.
        """
        if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Sequence):
            raise ValueError(f"callbacks must be a list of callback objects, got {type(callbacks).__name__}")
        if progress is not None and not isinstance(progress, bool):
            raise ValueError(f"progress must be True, False or None, got {progress!r}")
        private = self.kind == "tvae" and self.params["dp_epsilon"] is not None
        if id_columns is not None:
            if isinstance(id_columns, str):
                raise ValueError("id_columns must be a list of column names, not a string")
            self.params["id_columns"] = [str(c) for c in id_columns]
        inputs = prepare_fit(
            data,
            kind=self.kind,
            discrete_columns=discrete_columns,
            target=target,
            schema=schema,
            id_columns=self.params["id_columns"],
            id_policy=self.params["id_policy"],
            private=private,
        )
        plan, df, discrete, schema = inputs.plan, inputs.frame, inputs.discrete, inputs.schema
        # from here on the previous model is gone: a fit that raises leaves the synthesizer unfitted
        self.net = self.prior = self.cond_sampler = self.transformer = None
        self.fit_info, self.evaluation = {}, None
        self.target, self.discrete_columns, self.plan = target, discrete, plan
        loop = {
            "desc": f"synth {self.kind}",
            "callbacks": list(callbacks),
            "progress": progress,
            "num_threads": self.num_threads,
        }
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if private:
                assert schema is not None
                eps_total = float(self.params["dp_epsilon"])
                eps_schema = eps_total * float(self.params["dp_schema_share"])
                transformer = TableTransformer().fit_private(df, schema, epsilon=eps_schema, seed=self.seed)
            else:
                transformer = TableTransformer(self.params["numeric_encoding"]).fit(
                    df, discrete, seed=self.seed, continuous=plan.time_columns
                )
            x = torch.from_numpy(transformer.transform(df, seed=self.seed))
            losses, privacy = self._train(x, transformer, loop, eps_total - eps_schema if private else None)
        if privacy is not None:
            privacy["epsilon_schema"] = eps_schema
            privacy["epsilon_total"] = eps_schema + privacy.pop("epsilon")
        self.transformer = transformer
        threads = torch.get_num_threads() if self.num_threads is None else self.num_threads
        self.fit_info = {
            "rows": len(df),
            "columns": inputs.columns,
            "discrete_columns": discrete,
            "target": target,
            **plan.summary(),
            "encoded_dim": self.transformer.output_dim,
            "fit_seconds": round(time.perf_counter() - t0, 3),
            "threads": threads,
            "final_losses": losses,
            "notes": inputs.notes,
        }
        if privacy is not None:
            self.fit_info["privacy"] = privacy
        elif self.params["privacy_rows"]:
            # not under DP: these figures read the training rows and are saved with the model
            self.fit_info["privacy_report"] = self._fit_privacy_report(df)
        return self

    def _fit_privacy_report(self, model_df: pd.DataFrame) -> dict[str, Any]:
        """The privacy report of a fresh sample (as many rows as the training set, at most
        ``privacy_rows``) against the training rows, leave-one-out baseline."""
        from aigc_synth.evaluation import _clean
        from aigc_synth.privacy_report import report_on_model_frames

        assert self.plan is not None
        n = min(len(model_df), self.params["privacy_rows"])
        gen = torch.Generator().manual_seed(self.seed + 1)
        rows = self._sample_model(n, {}, gen, max_rounds=1)
        rep = report_on_model_frames(
            model_df,
            rows,
            None,
            categorical=self.discrete_columns,
            ignored=list(self.plan.ids),
            max_rows=self.params["privacy_rows"],
            seed=self.seed,
        )
        rep["sampled_rows"] = n
        return dict(_clean(rep))

    def _train(
        self, x: Tensor, transformer: TableTransformer, loop: dict[str, Any], dp_epsilon: float | None
    ) -> tuple[dict[str, float], dict[str, Any] | None]:
        """Train the network of ``self.kind`` on encoded rows ``x`` (tvae: with DP-SGD spending
        ``dp_epsilon`` when given); returns the final losses and the privacy accounting."""
        layout = BlockLayout(transformer.blocks)
        opts: dict[str, Any] = {"seed": self.seed, "loop_options": loop}
        if self.kind == "ctgan":
            blocks = ctgan.categorical_blocks(transformer)
            self.net, self.cond_sampler, losses = ctgan.fit(
                x, layout, blocks, self.params, **opts, verbose=self.verbose
            )
            return losses, None
        c = tvae.target_condition(x, transformer, self.target)
        if dp_epsilon is None:
            self.net, self.prior, losses = tvae.fit(x, c, layout, self.params, **opts, verbose=self.verbose)
            return losses, None
        net = tvae.build(x.shape[1], c.shape[1], self.params)
        accounting = fit_tvae_private(net, x, c, layout, self.params, epsilon=dp_epsilon, **opts)
        self.net = net
        return {}, accounting  # training losses are not private: not reported

    # ------------------------------------------------------------------ sample
    @torch.no_grad()
    def sample(
        self,
        n: int,
        conditions: Mapping[str, Any] | None = None,
        generator: torch.Generator | None = None,
        *,
        seed: int | None = None,
        max_rounds: int = 100,
    ) -> pd.DataFrame:
        """Generate ``n`` rows; every row satisfies ``conditions`` (column -> category).

        Randomness comes from ``generator`` (or a new one seeded with ``seed``, default the
        synthesizer's seed), so equal seeds give identical frames. Conditions on the tvae
        target (or, for ctgan, on the first conditioned column) are built into the model;
        any further condition is met by rejection, up to ``max_rounds`` batches.
        """
        if self.transformer is None or self.net is None:
            raise RuntimeError("call fit() (or Synthesizer.load()) before sample()")
        n = self.check_rows(n, "n")
        wanted = self._check_conditions(conditions or {})
        if generator is None:
            generator = torch.Generator().manual_seed(self.seed if seed is None else int(seed))
        rows = self._sample_model(n, wanted, generator, max_rounds=max_rounds, conditions=conditions)
        plan = self._plan()
        rng = np.random.default_rng(0)
        if plan.ids and plan.id_policy == "generate":
            # identifiers come last, from their own stream: the modelled columns do not depend on them
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator).item()))
        return plan.restore(rows, rng)

    def _plan(self) -> ColumnPlan:
        if self.plan is None:  # a model saved before column plans: every column is modelled
            assert self.transformer is not None
            self.plan = ColumnPlan.identity([c["name"] for c in self.transformer.columns])
        return self.plan

    @torch.no_grad()
    def _sample_model(
        self,
        n: int,
        wanted: dict[str, int],
        generator: torch.Generator,
        *,
        max_rounds: int,
        conditions: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """``n`` decoded rows of the modelled columns (times as numbers, no identifiers)."""
        assert self.transformer is not None
        parts: list[pd.DataFrame] = []
        have = made = rounds = 0
        with torch_threads.num_threads(self.num_threads):
            # Batches are at most max_batch rows; only batches in which the conditions rejected rows
            # count towards max_rounds, so a large n without (or with easy) conditions always finishes.
            while have < n and rounds < max_rounds:
                # size the next batch from the acceptance rate seen so far (rare conditions)
                rate = have / made if have else (1.0 if not made else 0.1 * made / (made + 1))
                m = int(min(max(math.ceil(1.1 * (n - have) / max(rate, 1e-4)), 64), self.max_batch))
                batch = self._generate(m, wanted, generator)
                made += m
                for col, idx in wanted.items():
                    cats = self.transformer.spec(col)["categories"]
                    batch = batch[_matches(batch[col], cats[idx])]
                parts.append(batch)
                have += len(batch)
                rounds += len(batch) < m
        if have < n:
            raise ValueError(
                f"only {have} of {n} rows satisfied the conditions {dict(conditions or {})} in "
                f"{made} generated rows ({max_rounds} batches with rejections); "
                "the combination is too rare for this model"
            )
        return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)

    #: Rows decoded per batch in :meth:`sample`, at most.
    max_batch: int = 200_000

    def check_rows(self, n: Any, arg: str = "n") -> int:
        """Return ``n`` as an int if it is a positive row count whose frame fits in memory.

        ValueError for a non-positive or non-int ``n``; :class:`~aigc_sdk.errors.UsageError`
        naming ``arg`` (``"-n"`` on the command line) when the rows would need more memory than
        :func:`aigc_sdk.specs.allocation_limit` (8 bytes per value, plus the encoded width).
        """
        from aigc_sdk.specs import check_allocation

        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"{arg} must be a positive int, got {n!r}")
        n = int(n)
        if self.transformer is not None:
            width = len(self.transformer.columns) * 8 + self.transformer.output_dim * 4
            check_allocation(
                f"{arg} {n}",
                n * width,
                purpose=f"for the rows ({len(self.transformer.columns)} columns)",
                hint=f"use a smaller {arg}, or sample in batches (several runs with different --seed)",
            )
        return n

    def _check_conditions(self, conditions: Mapping[str, Any]) -> dict[str, int]:
        if not isinstance(conditions, Mapping):
            raise ValueError(f"conditions must be a mapping column -> value, got {type(conditions).__name__}")
        assert self.transformer is not None
        for col in conditions:
            if str(col) in self._plan().ids:
                raise ValueError(
                    f"column {str(col)!r} is an id column (not modelled): it cannot be a condition"
                )
        return {str(col): self.transformer.category_index(str(col), v) for col, v in conditions.items()}

    def _generate(self, m: int, wanted: dict[str, int], generator: torch.Generator) -> pd.DataFrame:
        """Decode ``m`` rows, steering the model towards ``wanted`` where it can."""
        assert self.transformer is not None and self.net is not None
        if self.kind == "tvae":
            assert isinstance(self.net, TabularVAE)
            out = tvae.generate(self.net, self.transformer, self.target, self.prior, m, wanted, generator)
        else:
            assert isinstance(self.net, CTGANGenerator) and self.cond_sampler is not None
            out = ctgan.generate(self.net, self.cond_sampler, self.transformer, m, wanted, generator)
        return self.transformer.inverse_transform(out.numpy())

    # ------------------------------------------------------------------ report
    def report(self) -> dict[str, Any]:
        """JSON summary: model, options, fit figures and (after :meth:`evaluate`) the metrics."""
        if not self.fit_info:
            raise RuntimeError("call fit() (or Synthesizer.load()) before report()")
        out: dict[str, Any] = {
            "use_case": self.name,
            "kind": self.kind,
            "seed": self.seed,
            "params": self.params,
        }
        out["fit"] = self.fit_info
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation
        return out

    def evaluate(
        self,
        real: pd.DataFrame,
        *,
        train: pd.DataFrame | None = None,
        n: int | None = None,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Score ``n`` fresh samples (default ``len(real)``) against held-out ``real`` rows.

        See :func:`aigc_synth.evaluation.evaluate_synthetic`; ``train`` enables the
        privacy (distance to closest record, and :func:`aigc_synth.privacy_report.privacy_report`
        with ``real`` as the holdout, under ``"privacy_report"``) and augmentation figures. Scores
        are computed on the modelled columns (identifier columns left out, times as numbers). The
        result is kept for :meth:`report`.
        """
        from aigc_synth.evaluation import _clean, evaluate_synthetic
        from aigc_synth.privacy_report import report_on_model_frames

        plan = self._plan()
        synthetic = plan.to_model(self.sample(n or len(real), seed=seed))
        real_m = plan.to_model(as_frame(real, "real"))
        train_m = None if train is None else plan.to_model(as_frame(train, "train"))
        self.evaluation = evaluate_synthetic(
            real_m, synthetic, train=train_m, discrete_columns=self.discrete_columns, target=self.target
        )
        if train_m is not None:
            rows = self.params["privacy_rows"] or 2000
            self.evaluation["privacy_report"] = _clean(
                report_on_model_frames(
                    train_m,
                    synthetic,
                    real_m,
                    categorical=self.discrete_columns,
                    ignored=list(plan.ids),
                    max_rows=max(rows, 2),
                    seed=seed,
                )
            )
        return self.evaluation

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write ``model.safetensors`` + ``config.json`` to ``directory``, replacing it as a whole
        (see ``aigc_sdk.io.atomic_write_dir``: a kill never leaves a mix of two saves)."""
        from aigc_sdk.io import save_artifact

        if self.transformer is None or self.net is None:
            raise RuntimeError("nothing to save: call fit() first")
        tconfig, tarrays = self.transformer.state()
        tensors = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        tensors.update(
            {f"transformer.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in tarrays.items()}
        )
        pconfig, parrays = self._plan().state()
        tensors.update({f"plan.{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in parrays.items()})
        if self.prior is not None:
            tensors.update({f"prior.{k}": v for k, v in self.prior.items()})
        config = {
            "format": FORMAT,
            "format_version": 1,
            "kind": self.kind,
            "seed": self.seed,
            "params": self.params,
            "target": self.target,
            "discrete_columns": self.discrete_columns,
            "fit": self.fit_info,
            "transformer": tconfig,
            "columns_plan": pconfig,
            "condition_blocks": ctgan.categorical_blocks(self.transformer) if self.kind == "ctgan" else None,
            "condition_freqs": None
            if self.cond_sampler is None
            else [f.tolist() for f in self.cond_sampler.freqs],
        }
        save_artifact(directory, tensors, config)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Synthesizer:
        """Rebuild a fitted synthesizer saved by :meth:`save` (no pickle involved)."""
        from aigc_sdk.io import load_artifact

        config, tensors = load_artifact(directory, FORMAT, "Synthesizer")
        self = cls(config["kind"], seed=config["seed"], **config["params"])
        self.target, self.discrete_columns, self.fit_info = (
            config["target"],
            config["discrete_columns"],
            config["fit"],
        )
        tarrays = {
            k[len("transformer.") :]: v.numpy() for k, v in tensors.items() if k.startswith("transformer.")
        }
        self.transformer = TableTransformer.from_state(config["transformer"], tarrays)
        parrays = {k[len("plan.") :]: v.numpy() for k, v in tensors.items() if k.startswith("plan.")}
        self.plan = ColumnPlan.from_state(config.get("columns_plan"), parrays)
        state = {k[len("net.") :]: v for k, v in tensors.items() if k.startswith("net.")}
        dim = self.transformer.output_dim
        p = self.params
        if self.kind == "tvae":
            cdim = 0 if self.target is None else self.transformer.block_of(self.target).dim
            net: torch.nn.Module = tvae.build(dim, cdim, p)
            prior = {k[len("prior.") :]: v for k, v in tensors.items() if k.startswith("prior.")}
            self.prior = prior or None
        else:
            blocks = [tuple(b) for b in config["condition_blocks"]]
            sampler = ConditionSampler.from_frequencies(blocks, config["condition_freqs"])
            self.cond_sampler = sampler
            net = ctgan.build_generator(p, sampler.cond_dim, dim)
        net.load_state_dict(state)
        net.eval()
        self.net = net
        return self


# ---------------------------------------------------------------------- helpers
def _matches(s: pd.Series, value: Any) -> pd.Series:
    if value is None:
        return s.isna()
    return s.map(lambda v: v == value and isinstance(v, str) == isinstance(value, str)).astype(bool)
