"""A shallow linear item-item autoencoder with a closed-form fit (EASE: Steck, WWW 2019).

``scores = x @ B`` with ``B`` the ridge regression of every item column on all *other* item columns
(``diag(B) = 0``, so an item cannot predict itself). The constrained problem has a closed form:
with ``P = (X^T X + l2 * I)^-1``, ``B_ij = -P_ij / P_jj`` off the diagonal. Its cost is one
``items x items`` inverse, independent of the number of users, which makes it a cheap and strong
complement to the Mult-VAE on catalogues of up to a few ten thousand items.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# One items x items float64 inverse: 20k items need ~10 GB of working memory and minutes of CPU.
MAX_ITEMS = 20_000


class ItemLinearAE(nn.Module):
    """Item-item weights ``B`` (a buffer, saved with the model) scoring ``x @ B``."""

    def __init__(self, n_items: int) -> None:
        super().__init__()
        self.register_buffer("weight", torch.zeros(n_items, n_items))

    @classmethod
    def fit(cls, x: Tensor, l2: float) -> ItemLinearAE:
        """Closed-form fit on a binary ``(users, items)`` matrix with ridge penalty ``l2`` (> 0)."""
        if not l2 > 0:
            raise ValueError(f"l2 must be > 0, got {l2}")
        if x.dim() != 2 or not torch.isfinite(x).all():
            raise ValueError(f"x must be a finite 2-D (users, items) matrix, got shape {tuple(x.shape)}")
        n_items = x.shape[1]
        if n_items > MAX_ITEMS:
            raise ValueError(f"the linear autoencoder is fitted for at most {MAX_ITEMS} items, got {n_items}")
        xd = x.to(torch.float64)
        gram = xd.T @ xd
        gram.diagonal().add_(l2)
        p = torch.cholesky_inverse(torch.linalg.cholesky(gram))
        b = p / -p.diagonal()  # column j divided by -P_jj
        b.fill_diagonal_(0.0)
        model = cls(n_items)
        model.weight.copy_(b)
        return model

    @torch.no_grad()
    def scores(self, x: Tensor) -> Tensor:
        """Item scores for binary histories ``x`` (``(users, items)``)."""
        return x.to(self.weight.dtype) @ self.weight
