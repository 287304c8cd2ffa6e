"""The :class:`Synthesizer` use-case: fit a generative model on a table, sample new rows.

Two model kinds share one data pipeline (:mod:`aigc_synth.transformer`):

* ``"tvae"`` — a variational autoencoder over the encoded rows. When a ``target`` is
  given it is a conditional VAE keyed on the target's one-hot, so the class balance is
  exact and ``conditions={target: value}`` costs nothing. Optionally (``latent_prior="gmm"``)
  the latent prior is replaced by a Gaussian mixture fitted to the training posteriors.
* ``"ctgan"`` — a conditional WGAN-GP with PacGAN critic, conditional vectors and
  training-by-sampling over every categorical column.

Everything that is fitted is saved as ``config.json`` + ``model.safetensors``; nothing is
ever pickled. Fitting and sampling are bitwise reproducible on CPU for a given seed.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from aigc_sdk import threads as torch_threads
from aigc_sdk.interfaces import UseCase
from aigc_sdk.io import format_tag
from aigc_sdk.training import FitLoop
from aigc_sdk.validation import check_int
from aigc_synth.columns import ID_POLICIES, ColumnPlan, label_candidates
from aigc_synth.conditions import ConditionSampler
from aigc_synth.networks import (
    BlockLayout,
    CTGANDiscriminator,
    CTGANGenerator,
    TabularVAE,
    finalize,
    gan_activate,
)
from aigc_synth.privacy import check_dp_options, default_delta, fit_vae_private
from aigc_synth.transformer import TableTransformer, check_schema

FORMAT = format_tag("synthesizer")
KINDS = ("tvae", "ctgan")
# options of both kinds: identifier columns (aigc_synth.columns) and the post-fit privacy report
_COMMON: dict[str, Any] = {"id_columns": None, "id_policy": "generate", "privacy_rows": 2000}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "tvae": {
        "epochs": 100,
        "batch_size": 500,
        "hidden": [128, 128],
        "latent_dim": 64,
        "lr": 1e-3,
        "weight_decay": 1e-5,
        "beta": 1.0,
        "numeric_encoding": "quantile",
        "latent_prior": "normal",
        "prior_components": 10,
        # differentially-private training (aigc_synth.privacy): off unless dp_epsilon is set
        "dp_epsilon": None,
        "dp_delta": None,
        "dp_max_grad_norm": 1.0,
        "dp_schema_share": 0.1,
        **_COMMON,
    },
    "ctgan": {
        "epochs": 300,
        "batch_size": 500,
        "hidden": [256, 256],
        "latent_dim": 128,
        "lr": 2e-4,
        "weight_decay": 1e-6,
        "pac": 10,
        # measured on credit_data: the quantile map beats mode-specific normalisation here too
        "numeric_encoding": "quantile",
        **_COMMON,
    },
}


class Synthesizer(UseCase):
    """Synthetic tabular data: ``Synthesizer(kind="tvae").fit(df, target="y").sample(1000)``.

    Keyword options (defaults depend on ``kind``): ``epochs``, ``batch_size``, ``hidden``,
    ``latent_dim``, ``lr``, ``weight_decay``, ``numeric_encoding`` (``"quantile"`` or
    ``"mode"``), for tvae ``beta``, ``latent_prior`` (``"normal"`` or ``"gmm"``),
    ``prior_components``, for ctgan ``pac``; plus ``seed`` and ``num_threads``.

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
        if kind == "ctgan" and self.params["batch_size"] % self.params["pac"]:
            raise ValueError("batch_size must be a multiple of pac")
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
        if kind == "tvae" and self.params["latent_prior"] not in ("normal", "gmm"):
            raise ValueError(f"latent_prior must be 'normal' or 'gmm', got {self.params['latent_prior']!r}")
        if kind == "tvae" and self.params["dp_epsilon"] is not None:
            check_dp_options(
                self.params["dp_epsilon"],
                self.params["dp_delta"],
                self.params["dp_max_grad_norm"],
                self.params["dp_schema_share"],
            )
            if self.params["latent_prior"] != "normal":
                raise ValueError(
                    "latent_prior='gmm' fits the data without noise; use 'normal' with dp_epsilon"
                )
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
        df = _check_frame(data)
        private = self.kind == "tvae" and self.params["dp_epsilon"] is not None
        if id_columns is not None:
            if isinstance(id_columns, str):
                raise ValueError("id_columns must be a list of column names, not a string")
            self.params["id_columns"] = [str(c) for c in id_columns]
        if isinstance(discrete_columns, str):
            raise ValueError("discrete_columns must be a list of column names, not a string")
        if target is not None and target not in df.columns:
            raise ValueError(f"unknown target column {target!r}; columns are {list(df.columns)}")
        plan = ColumnPlan.fit(
            df,
            discrete_columns=discrete_columns,
            target=target,
            id_columns=self.params["id_columns"],
            id_policy=self.params["id_policy"],
            private=private,
        )
        if target is not None and target in plan.ids:
            raise ValueError(f"target {target!r} cannot be an id column")
        if not plan.model_columns:
            raise ValueError(
                f"every column is an identifier ({sorted(plan.ids)}): nothing is left to model; "
                "pass id_columns=[] to model them as ordinary columns"
            )
        notes = list(plan.notes)
        if target is None and not private:  # (under DP even a hint read from the rows is not kept)
            labels = label_candidates(df, exclude=[*plan.ids, *plan.times])
            if labels:
                why = (
                    "conditioning the model on it usually improves downstream utility (TSTR)"
                    if self.kind == "tvae"
                    else "it usually improves downstream utility (TSTR), and evaluate() then measures it"
                )
                msg = (
                    f"no target given, but column {labels[0]!r} looks like a label "
                    f"({df[labels[0]].nunique()} values); pass target={labels[0]!r}: {why}"
                )
                warnings.warn(msg, UserWarning, stacklevel=2)
                notes.append(msg)
        full = df
        df = plan.to_model(df)
        if discrete_columns is not None:
            discrete_columns = [c for c in map(str, discrete_columns) if c not in plan.ids]
        if private:
            if schema is None:
                raise ValueError(
                    "schema is required with dp_epsilon: public bounds {'min', 'max'} for numeric columns "
                    "and {'categories': [...]} for categorical ones, not read from the data"
                )
            schema = (
                {k: v for k, v in schema.items() if k not in plan.ids} if isinstance(schema, dict) else schema
            )
            check_schema(df, schema)
            from_schema = [str(c) for c in df.columns if "categories" in schema[str(c)]]
            if discrete_columns is not None and sorted(map(str, discrete_columns)) != sorted(from_schema):
                raise ValueError(
                    f"discrete_columns {list(discrete_columns)} disagree with the schema's {from_schema}"
                )
            discrete_columns = from_schema
            if target is not None and target not in from_schema:
                raise ValueError(f"target {target!r} must have 'categories' in the schema")
        elif schema is not None:
            raise ValueError("schema is only used with differential privacy (set dp_epsilon)")
        discrete = _resolve_discrete(df, discrete_columns, target)
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
        privacy: dict[str, Any] | None = None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            if private:
                assert schema is not None
                eps_total = float(self.params["dp_epsilon"])
                eps_schema = eps_total * float(self.params["dp_schema_share"])
                self.transformer = TableTransformer().fit_private(
                    df, schema, epsilon=eps_schema, seed=self.seed
                )
            else:
                self.transformer = TableTransformer(self.params["numeric_encoding"]).fit(
                    df, discrete, seed=self.seed, continuous=plan.time_columns
                )
            x = torch.from_numpy(self.transformer.transform(df, seed=self.seed))
            if private:
                privacy = self._fit_vae_private(x, eps_total - eps_schema, loop)
                privacy["epsilon_schema"] = eps_schema
                privacy["epsilon_total"] = eps_schema + privacy.pop("epsilon")
                losses: dict[str, float] = {}  # training losses are not private: not reported
            else:
                losses = self._fit_vae(x, loop) if self.kind == "tvae" else self._fit_ctgan(x, loop)
        threads = torch.get_num_threads() if self.num_threads is None else self.num_threads
        self.fit_info = {
            "rows": len(df),
            "columns": [str(c) for c in full.columns],
            "discrete_columns": discrete,
            "target": target,
            **plan.summary(),
            "encoded_dim": self.transformer.output_dim,
            "fit_seconds": round(time.perf_counter() - t0, 3),
            "threads": threads,
            "final_losses": losses,
            "notes": notes,
        }
        if privacy is not None:
            self.fit_info["privacy"] = privacy
        elif self.params["privacy_rows"]:
            # not under DP: these figures read the training rows and are saved with the model
            self.fit_info["privacy_report"] = self._fit_privacy_report(df)
        self.evaluation = None
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

    def _cond_for_target(self, x: Tensor) -> Tensor:
        if self.target is None:
            return x.new_zeros(len(x), 0)
        assert self.transformer is not None
        b = self.transformer.block_of(self.target)
        return x[:, b.start : b.start + b.dim]

    def _fit_vae(self, x: Tensor, loop_options: dict[str, Any]) -> dict[str, float]:
        assert self.transformer is not None
        p = self.params
        layout = BlockLayout(self.transformer.blocks)
        c = self._cond_for_target(x)
        net = TabularVAE(x.shape[1], c.shape[1], p["hidden"], p["latent_dim"])
        opt = torch.optim.Adam(net.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
        n, bs = len(x), min(p["batch_size"], len(x))
        last: dict[str, float] = {}
        with FitLoop(model=net, total=p["epochs"] * math.ceil(n / bs), **loop_options) as loop:
            for epoch in range(p["epochs"]):
                perm = torch.randperm(n)
                sums = {"loss": 0.0, "reconstruction": 0.0, "kl": 0.0}
                done = 0
                for i in range(0, n, bs):
                    idx = perm[i : i + bs]
                    loss, rec, kl = net.loss(x[idx], c[idx], layout, p["beta"])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step = {"loss": loss.item(), "reconstruction": rec.item(), "kl": kl.item()}
                    sums = {k: sums[k] + step[k] for k in sums}
                    done += 1
                    loop.end_step(step)
                    if loop.should_stop:
                        break
                last = {k: v / done for k, v in sums.items()}  # the epoch's mean losses
                if self.verbose and (epoch + 1) % 50 == 0:
                    print(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in last.items()))
                if loop.should_stop:
                    break
            net.eval()
            if p["latent_prior"] == "gmm":
                self.prior = _fit_latent_prior(net, x, c, p["prior_components"], self.seed)
        self.net = net
        return last

    def _fit_vae_private(self, x: Tensor, epsilon: float, loop_options: dict[str, Any]) -> dict[str, Any]:
        assert self.transformer is not None
        p = self.params
        c = self._cond_for_target(x)
        net = TabularVAE(x.shape[1], c.shape[1], p["hidden"], p["latent_dim"])
        delta = p["dp_delta"] if p["dp_delta"] is not None else default_delta(len(x))
        acct = fit_vae_private(
            net,
            x,
            c,
            BlockLayout(self.transformer.blocks),
            beta=p["beta"],
            epochs=p["epochs"],
            batch_size=min(p["batch_size"], len(x)),
            lr=p["lr"],
            weight_decay=p["weight_decay"],
            epsilon=epsilon,
            delta=delta,
            max_grad_norm=p["dp_max_grad_norm"],
            seed=self.seed,
            loop_options=loop_options,
        )
        net.eval()
        self.net = net
        return acct

    def _categorical_blocks(self) -> list[tuple[str, int, int]]:
        assert self.transformer is not None
        return [
            (spec["name"], self.transformer.block_of(spec["name"]).start, len(spec["categories"]))
            for spec in self.transformer.columns
            if spec["role"] == "categorical"
        ]

    def _fit_ctgan(self, x: Tensor, loop_options: dict[str, Any]) -> dict[str, float]:
        assert self.transformer is not None
        p = self.params
        layout = BlockLayout(self.transformer.blocks)
        sampler = ConditionSampler(x.numpy(), self._categorical_blocks())
        self.cond_sampler = sampler
        gen = CTGANGenerator(p["latent_dim"], sampler.cond_dim, p["hidden"], x.shape[1])
        disc = CTGANDiscriminator(x.shape[1] + sampler.cond_dim, p["hidden"], p["pac"])
        opt_g = torch.optim.Adam(
            gen.parameters(), lr=p["lr"], betas=(0.5, 0.9), weight_decay=p["weight_decay"]
        )
        opt_d = torch.optim.Adam(
            disc.parameters(), lr=p["lr"], betas=(0.5, 0.9), weight_decay=p["weight_decay"]
        )
        rng = np.random.default_rng(self.seed)
        bs = p["batch_size"]
        steps = max(1, len(x) // bs)
        last: dict[str, float] = {}
        # hooks see both networks; the generator is what is kept
        pair = torch.nn.ModuleDict({"generator": gen, "discriminator": disc})
        with FitLoop(model=pair, total=p["epochs"] * steps, **loop_options) as loop:
            for epoch in range(p["epochs"]):
                for _ in range(steps):
                    cond, col, cat, rows = sampler.sample_train(bs, rng)
                    real = torch.cat([x[torch.from_numpy(rows)], cond], dim=1)
                    fake = gan_activate(gen(torch.randn(bs, p["latent_dim"]), cond), layout)
                    fake = torch.cat([fake, cond], dim=1)
                    loss_d = disc(fake.detach()).mean() - disc(real).mean()
                    pen = disc.gradient_penalty(real, fake.detach())
                    opt_d.zero_grad(set_to_none=True)
                    (loss_d + pen).backward()
                    opt_d.step()

                    cond, col, cat, _ = sampler.sample_train(bs, rng)
                    raw = gen(torch.randn(bs, p["latent_dim"]), cond)
                    score = disc(torch.cat([gan_activate(raw, layout), cond], dim=1)).mean()
                    loss_g = -score + _condition_loss(raw, sampler, col, cat)
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_g.step()
                    last = {"loss_d": loss_d.item(), "penalty": pen.item(), "loss_g": loss_g.item()}
                    loop.end_step(last)
                    if loop.should_stop:
                        break
                if self.verbose and (epoch + 1) % 50 == 0:
                    print(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v:.3f}" for k, v in last.items()))
                if loop.should_stop:
                    break
        gen.eval()
        self.net = gen
        return last

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
        layout = BlockLayout(self.transformer.blocks)
        if self.kind == "tvae":
            net = self.net
            assert isinstance(net, TabularVAE)
            if self.target is None:
                c = torch.zeros(m, 0)
            else:
                b = self.transformer.block_of(self.target)
                if self.target in wanted:
                    idx = torch.full((m,), wanted[self.target], dtype=torch.long)
                else:
                    freq = torch.tensor(
                        self.transformer.spec(self.target)["frequencies"], dtype=torch.float64
                    )
                    idx = torch.multinomial(freq, m, replacement=True, generator=generator)
                c = torch.nn.functional.one_hot(idx, b.dim).float()
            z = _sample_prior(self.prior, m, net.latent_dim, generator)
            out = finalize(net.decode(z, c), layout, noise_scale=net.log_sigma, generator=generator)
        else:
            gen = self.net
            assert isinstance(gen, CTGANGenerator) and self.cond_sampler is not None
            steer = next((col for col in wanted if col in self.cond_sampler.columns), None)
            if steer is None:
                c = self.cond_sampler.sample_original(m, generator)
            else:
                c = self.cond_sampler.fixed(m, steer, wanted[steer])
            z = torch.randn(m, self.params["latent_dim"], generator=generator)
            out = finalize(gen(z, c), layout, noise_scale=None, generator=generator)
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
        real_m = plan.to_model(_as_frame(real, "real"))
        train_m = None if train is None else plan.to_model(_as_frame(train, "train"))
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
            "condition_blocks": self._categorical_blocks() if self.kind == "ctgan" else None,
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
            net: torch.nn.Module = TabularVAE(dim, cdim, p["hidden"], p["latent_dim"])
            prior = {k[len("prior.") :]: v for k, v in tensors.items() if k.startswith("prior.")}
            self.prior = prior or None
        else:
            blocks = [tuple(b) for b in config["condition_blocks"]]
            sampler = ConditionSampler.from_frequencies(blocks, config["condition_freqs"])
            self.cond_sampler = sampler
            net = CTGANGenerator(p["latent_dim"], sampler.cond_dim, p["hidden"], dim)
        net.load_state_dict(state)
        net.eval()
        self.net = net
        return self


# ---------------------------------------------------------------------- helpers
def _as_frame(data: Any, what: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    out = data.reset_index(drop=True)
    out.columns = [str(c) for c in out.columns]
    return out


def _check_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"data is empty (shape {data.shape})")
    if data.shape[0] < 2:
        raise ValueError("data needs at least 2 rows")
    if len(set(map(str, data.columns))) != data.shape[1]:
        raise ValueError("column names must be unique")
    df = data.reset_index(drop=True).copy()
    df.columns = [str(c) for c in df.columns]
    all_nan = [c for c in df.columns if df[c].isna().all()]
    if all_nan:
        raise ValueError(f"column(s) {all_nan} have only missing values")
    return df


def _resolve_discrete(df: pd.DataFrame, discrete: Sequence[str] | None, target: str | None) -> list[str]:
    if isinstance(discrete, str):
        raise ValueError("discrete_columns must be a list of column names, not a string")
    if discrete is None:
        out = [
            c
            for c in df.columns
            if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])
        ]
    else:
        out = [str(c) for c in discrete]
        unknown = [c for c in out if c not in df.columns]
        if unknown:
            raise ValueError(f"unknown discrete column(s) {unknown}; columns are {list(df.columns)}")
    if target is not None:
        if target not in df.columns:
            raise ValueError(f"unknown target column {target!r}; columns are {list(df.columns)}")
        if target not in out:
            if df[target].nunique() > 50:
                raise ValueError(
                    f"target {target!r} must be categorical (it has {df[target].nunique()} values)"
                )
            out.append(target)
    for c in df.columns:
        if c not in out and not pd.api.types.is_numeric_dtype(df[c]):
            raise ValueError(f"column {c!r} is not numeric; list it in discrete_columns")
    return [c for c in df.columns if c in out]


def _matches(s: pd.Series, value: Any) -> pd.Series:
    if value is None:
        return s.isna()
    return s.map(lambda v: v == value and isinstance(v, str) == isinstance(value, str)).astype(bool)


def _condition_loss(raw: Tensor, sampler: ConditionSampler, col: Tensor, cat: Tensor) -> Tensor:
    """Cross-entropy between the generator's logits for the conditioned column and the ask."""
    total = raw.new_zeros(())
    for j, (start, dim) in enumerate(zip(sampler.starts, sampler.dims)):
        sel = col == j
        if sel.any():
            ce = torch.nn.functional.cross_entropy(raw[sel, start : start + dim], cat[sel], reduction="sum")
            total = total + ce
    return total / len(raw)


def _fit_latent_prior(net: TabularVAE, x: Tensor, c: Tensor, k: int, seed: int) -> dict[str, Tensor]:
    """Fit a full-covariance Gaussian mixture to the posterior means (ex-post density estimation)."""
    from sklearn.mixture import GaussianMixture

    with torch.no_grad():
        mu, _ = net.encode(x, c)
    gm = GaussianMixture(
        n_components=min(k, len(x)), covariance_type="full", random_state=seed, reg_covar=1e-4
    )
    gm.fit(mu.double().numpy())
    return {
        "weights": torch.from_numpy(gm.weights_.astype(np.float64)),
        "means": torch.from_numpy(gm.means_.astype(np.float32)),
        "chol": torch.from_numpy(np.linalg.cholesky(gm.covariances_).astype(np.float32)),
    }


def _sample_prior(prior: dict[str, Tensor] | None, m: int, dim: int, generator: torch.Generator) -> Tensor:
    eps = torch.randn(m, dim, generator=generator)
    if prior is None:
        return eps
    comp = torch.multinomial(prior["weights"], m, replacement=True, generator=generator)
    return prior["means"][comp] + torch.einsum("nij,nj->ni", prior["chol"][comp], eps)
