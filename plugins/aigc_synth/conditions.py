"""Conditional vectors and training-by-sampling (the CTGAN recipe for categories).

During training each row of a batch picks one categorical column uniformly, then one of
its categories with probability proportional to the log of its frequency, then a real row
having that category. The one-hot of that choice (the conditional vector) is fed to the
generator, which is penalised when its output disagrees. Rare categories are therefore
seen often enough to be learnt, and at sampling time any single category can be asked for.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class ConditionSampler:
    """Builds conditional vectors over the categorical one-hot blocks of an encoded matrix."""

    def __init__(
        self, data: np.ndarray, blocks: list[tuple[str, int, int]], *, log_frequency: bool = True
    ) -> None:
        """``blocks`` lists ``(column, start, dim)`` of every categorical column."""
        self.columns = [c for c, _, _ in blocks]
        self.n_rows = len(data)
        self.starts = [s for _, s, _ in blocks]
        self.dims = [d for _, _, d in blocks]
        self.offsets = np.concatenate([[0], np.cumsum(self.dims)]).astype(np.int64)
        self.cond_dim = int(self.offsets[-1])
        self.rows: list[list[np.ndarray]] = []
        self.train_probs: list[np.ndarray] = []
        self.freqs: list[np.ndarray] = []
        for _, start, dim in blocks:
            idx = data[:, start : start + dim].argmax(axis=1)
            self.rows.append([np.flatnonzero(idx == k) for k in range(dim)])
            counts = np.bincount(idx, minlength=dim).astype(np.float64)
            p = np.log1p(counts) if log_frequency else counts
            self.train_probs.append(p / p.sum())
            self.freqs.append(counts / counts.sum())

    @classmethod
    def from_frequencies(
        cls, blocks: list[tuple[str, int, int]], freqs: list[list[float]]
    ) -> ConditionSampler:
        """Rebuild a sampling-only instance (no training rows) from saved category frequencies."""
        dims = sum(d for _, _, d in blocks)
        fake = np.zeros((len(blocks), dims + max((s for _, s, _ in blocks), default=0)), dtype=np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            self = cls(fake, blocks)
        self.freqs = [np.asarray(f, dtype=np.float64) for f in freqs]
        self.train_probs = [f.copy() for f in self.freqs]
        self.rows = []
        return self

    def sample_train(self, batch: int, rng: np.random.Generator) -> tuple[Tensor, Tensor, Tensor, np.ndarray]:
        """Return ``(cond, column, category, row_index)`` for one training batch."""
        if not self.columns:  # an all-numeric table: plain uniform row sampling
            zeros = torch.zeros(batch, dtype=torch.long)
            return torch.zeros(batch, 0), zeros, zeros, rng.integers(0, self.n_rows, size=batch)
        col = rng.integers(0, len(self.columns), size=batch)
        cat = np.empty(batch, dtype=np.int64)
        rows = np.empty(batch, dtype=np.int64)
        for j in range(len(self.columns)):
            sel = np.flatnonzero(col == j)
            if sel.size == 0:
                continue
            cat[sel] = rng.choice(self.dims[j], size=sel.size, p=self.train_probs[j])
            for i in sel:  # a real row carrying the chosen category
                pool = self.rows[j][cat[i]]
                rows[i] = pool[rng.integers(0, pool.size)]
        cond = np.zeros((batch, self.cond_dim), dtype=np.float32)
        cond[np.arange(batch), self.offsets[col] + cat] = 1.0
        return torch.from_numpy(cond), torch.from_numpy(col), torch.from_numpy(cat), rows

    def sample_original(self, batch: int, generator: torch.Generator | None) -> Tensor:
        """Conditional vectors drawn as the data would: a uniform column, then its empirical frequency."""
        cond = torch.zeros(batch, self.cond_dim)
        if not self.columns:
            return cond
        col = torch.randint(0, len(self.columns), (batch,), generator=generator)
        for j in range(len(self.columns)):
            sel = torch.nonzero(col == j).squeeze(1)
            if sel.numel():
                p = torch.as_tensor(self.freqs[j], dtype=torch.float64)
                cat = torch.multinomial(p, sel.numel(), replacement=True, generator=generator)
                cond[sel, int(self.offsets[j]) + cat] = 1.0
        return cond

    def fixed(self, batch: int, column: str, category: int) -> Tensor:
        """Conditional vectors that all ask for ``category`` of ``column``."""
        cond = torch.zeros(batch, self.cond_dim)
        cond[:, int(self.offsets[self.columns.index(column)]) + category] = 1.0
        return cond
