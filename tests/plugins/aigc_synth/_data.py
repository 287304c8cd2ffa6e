"""Small mixed-type frames generated in code for the synth tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Mixed types with structure: integer/bounded, skewed float with zeros, categories,
    missing values, and a binary target that depends on the other columns."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.6, 0.3, 0.1])
    age = np.clip(np.round(rng.normal(40, 10, n) + (group == "b") * 10), 18, 80).astype(np.int64)
    income = np.where(rng.uniform(size=n) < 0.3, 0.0, np.round(rng.lognormal(3, 0.5, n), 2))
    income[rng.uniform(size=n) < 0.1] = np.nan
    city = rng.choice(["north", "south", None], size=n, p=[0.5, 0.45, 0.05]).astype(object)
    logit = (age - 40) / 10 + (group == "c") * 1.5 - 0.5
    status = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-logit)), "bad", "good")
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "group": group,
            "city": city,
            "term": rng.choice([12, 24, 36], n),
            "Status": status,
        }
    )
