"""Unit tests of the ``recommend`` use-case on a synthetic user-item matrix with block structure."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import aigc_recommend
from aigc_recommend.metrics import ndcg_at_k, recall_at_k
from aigc_recommend.recommender import Recommender, ranking_metrics
from aigc_sdk.interfaces import UseCase
from aigc_sdk.registry import Registry

FAST = {
    "hidden": 32,
    "latent_dim": 8,
    "epochs": 15,
    "batch_size": 64,
    "lr": 3e-3,
    "anneal_steps": 50,
    "ensemble": 1,
    "dae_members": 0,
    "linear_weight": 0.0,
}


def block_matrix(
    seed: int = 0, users: int = 240, items: int = 60, groups: int = 4, p_in: float = 0.5
) -> np.ndarray:
    """Users of group g like items of block g with probability p_in, others rarely."""
    rng = np.random.default_rng(seed)
    g_user = np.arange(users) % groups
    g_item = np.arange(items) % groups
    p = np.where(g_user[:, None] == g_item[None, :], p_in, 0.02)
    return (rng.random((users, items)) < p).astype(np.float32)


def split_heldout(mat: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    fold, held = mat.copy(), np.zeros_like(mat)
    for r in range(len(mat)):
        cols = np.flatnonzero(mat[r])
        pick = rng.choice(cols, max(1, int(0.2 * len(cols))), replace=False)
        fold[r, pick], held[r, pick] = 0, 1
    return fold, held


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    mat = block_matrix()
    train, val, test = mat[:160], mat[160:200], mat[200:]
    return {"train": train, "val": split_heldout(val), "test": split_heldout(test, 2)}


@pytest.fixture(scope="module")
def fitted(data: dict[str, np.ndarray]) -> Recommender:
    return Recommender("multvae", **FAST).fit(data["train"], validation=data["val"])


def test_package_is_light_and_registers_in_process() -> None:
    assert aigc_recommend.AIGC_SDK_API == ">=1,<2"
    assert "import torch" not in Path(aigc_recommend.__file__).read_text()
    reg = Registry(autoload=False)
    assert reg.host.register(aigc_recommend).status != "skipped"
    assert "recommend" in reg.list_names("use_case")
    rec = reg.create("use_case", "recommend", kind="multdae")
    assert isinstance(rec, UseCase) and rec.config["kind"] == "multdae"
    parser = argparse.ArgumentParser()
    aigc_recommend.register_commands(parser.add_subparsers())
    assert callable(parser.parse_args(["recommend", "fit", "x.csv", "--out", "m"]).func)


@pytest.mark.parametrize("kind", ["multvae", "multdae"])
def test_beats_popularity_on_block_structure(kind: str, data: dict[str, np.ndarray]) -> None:
    rec = Recommender(kind, **FAST).fit(data["train"], validation=data["val"])
    fold, held = data["test"]
    m = rec.evaluate(fold, held, ks=(20, 10))
    pop = np.tile(data["train"].sum(0), (len(fold), 1)).astype(np.float64)
    pop[fold > 0] = -np.inf
    base = ranking_metrics(pop, held, (10,))
    assert m["ndcg@10"] > base["ndcg@10"] + 0.1, (m, base)
    rep = rec.report()
    json.dumps(rep)
    assert 1 <= rep["best_epoch"] <= FAST["epochs"]


def test_recommend_fold_in_and_exclude_seen(fitted: Recommender) -> None:
    hist = {"new-user": [0, 4, 8, 12]}  # block 0 items (item ids are column numbers for matrix input)
    out = fitted.recommend(hist, k=5)
    assert isinstance(out, dict) and list(out) == ["new-user"]
    recs = out["new-user"]
    assert len(recs) == 5 and not set(recs) & set(hist["new-user"])
    assert sum(r % 4 == 0 for r in recs) >= 4  # same block
    with_seen = fitted.recommend([[0, 4, 8, 12]], k=60, exclude_seen=False)
    assert isinstance(with_seen, list) and set(with_seen[0]) >= {0, 4, 8, 12}


def test_known_users_and_dataframe_ids() -> None:
    pd = pytest.importorskip("pandas")
    mat = block_matrix(users=80, items=20)
    u, i = np.nonzero(mat)
    df = pd.DataFrame({"user": [f"u{x}" for x in u], "item": [f"i{x}" for x in i], "rating": 5.0})
    rec = Recommender("multdae", **FAST).fit(
        df, user_col="user", item_col="item", rating_col="rating", min_rating=4
    )
    out = rec.recommend_known(["u0", "u1"], k=3)
    assert set(out) == {"u0", "u1"} and all(r.startswith("i") for r in out["u0"])
    with pytest.raises(ValueError, match="unknown user"):
        rec.recommend_known(["nobody"])
    with pytest.raises(ValueError, match="unknown item"):
        rec.recommend({"x": ["i0", "not-an-item"]})
    with pytest.raises(ValueError, match="no column"):
        Recommender(**FAST).fit(df, user_col="uid")
    with pytest.raises(ValueError, match="empty"):
        Recommender(**FAST).fit(df.iloc[:0], user_col="user", item_col="item")


def test_bitwise_reproducible_and_seed_sensitive(data: dict[str, np.ndarray]) -> None:
    torch.manual_seed(1)
    a = Recommender("multvae", seed=5, **FAST).fit(data["train"]).score_matrix(data["test"][0])
    torch.manual_seed(2)
    b = Recommender("multvae", seed=5, **FAST).fit(data["train"]).score_matrix(data["test"][0])
    assert np.array_equal(a, b)
    c = Recommender("multvae", seed=6, **FAST).fit(data["train"]).score_matrix(data["test"][0])
    assert not np.array_equal(a, c)


def test_save_load_roundtrip(tmp_path, fitted: Recommender, data: dict[str, np.ndarray]) -> None:
    fitted.save(tmp_path / "rec")
    assert sorted(p.name for p in (tmp_path / "rec").iterdir()) == ["config.json", "model.safetensors"]
    loaded = Recommender.load(tmp_path / "rec")
    fold = data["test"][0]
    assert np.array_equal(loaded.score_matrix(fold), fitted.score_matrix(fold))
    assert loaded.recommend([[1, 5]], k=4) == fitted.recommend([[1, 5]], k=4)


def test_ensemble_fit_save_load_and_auto_anneal(tmp_path, data: dict[str, np.ndarray]) -> None:
    cfg = {**FAST, "anneal_steps": None, "ensemble": 2}
    rec = Recommender("multvae", **cfg).fit(data["train"], validation=data["val"])
    rep = rec.report()
    steps_per_epoch = -(-len(data["train"]) // FAST["batch_size"])
    assert rep["anneal_steps"] == FAST["epochs"] * steps_per_epoch  # auto: the whole run
    assert len(rep["member_best_epochs"]) == 2 and rep["validation_ndcg@100"] is not None
    fold = data["test"][0]
    s = rec.score_matrix(fold)
    assert np.isneginf(s[fold > 0]).all() and np.isfinite(s[fold == 0]).all()
    single = Recommender("multvae", **{**cfg, "ensemble": 1}).fit(data["train"], validation=data["val"])
    assert not np.array_equal(s, single.score_matrix(fold))  # member 0 alone differs from the mix
    rec.save(tmp_path / "ens")
    loaded = Recommender.load(tmp_path / "ens")
    assert loaded.config["ensemble"] == 2
    assert np.array_equal(loaded.score_matrix(fold), s)
    with pytest.raises(ValueError, match="ensemble"):
        Recommender(ensemble=0)


def test_mixed_vae_dae_ensemble_round_trips(tmp_path, data: dict[str, np.ndarray]) -> None:
    from aigc_recommend.networks import MultEnsemble

    rec = Recommender("multvae", **{**FAST, "dae_members": 1}).fit(data["train"], validation=data["val"])
    assert isinstance(rec.net, MultEnsemble)
    assert [m.kind for m in rec.net.members] == ["multvae", "multdae"]
    assert len(rec.report()["member_best_epochs"]) == 2
    fold = data["test"][0]
    rec.save(tmp_path / "mixed")
    loaded = Recommender.load(tmp_path / "mixed")
    assert [m.kind for m in loaded.net.members] == ["multvae", "multdae"]
    assert np.array_equal(loaded.score_matrix(fold), rec.score_matrix(fold))
    with pytest.raises(ValueError, match="dae_members"):
        Recommender(dae_members=-1)


def test_linear_autoencoder_solves_each_items_constrained_ridge() -> None:
    from aigc_recommend.linear import ItemLinearAE

    x = torch.from_numpy(block_matrix(seed=3, users=50, items=12))
    lin = ItemLinearAE.fit(x, l2=7.0)
    b = lin.weight.double()
    assert torch.all(b.diagonal() == 0)
    xd = x.double()
    for j in range(x.shape[1]):  # column j: ridge regression of item j on all other items
        rest = [k for k in range(x.shape[1]) if k != j]
        a = xd[:, rest]
        want = torch.linalg.solve(a.T @ a + 7.0 * torch.eye(len(rest), dtype=torch.float64), a.T @ xd[:, j])
        assert torch.allclose(b[rest, j], want, atol=1e-5), j
    assert torch.allclose(lin.scores(x[:3]), x[:3] @ lin.weight)
    with pytest.raises(ValueError, match="l2"):
        ItemLinearAE.fit(x, l2=0.0)
    with pytest.raises(ValueError, match="2-D"):
        ItemLinearAE.fit(x[0], l2=1.0)


def test_blend_with_linear_autoencoder_round_trips(tmp_path, data: dict[str, np.ndarray]) -> None:
    from aigc_recommend.networks import BlendedScorer, MultNet

    cfg = {**FAST, "linear_weight": 0.3, "linear_l2": 20.0}
    rec = Recommender("multvae", **cfg).fit(data["train"], validation=data["val"])
    assert isinstance(rec.net, BlendedScorer) and isinstance(rec.net.neural, MultNet)
    pure = Recommender("multvae", **FAST).fit(data["train"], validation=data["val"])
    fold = data["test"][0]
    x = torch.from_numpy(fold)
    z = [
        (s - s.mean(1, keepdim=True)) / s.std(1, keepdim=True)
        for s in (pure.net.scores(x), x @ rec.net.linear.weight)
    ]
    assert torch.allclose(
        torch.from_numpy(rec.score_matrix(fold, exclude_seen=False)), 0.7 * z[0] + 0.3 * z[1], atol=1e-5
    )
    assert rec.report()["validation_ndcg@100"] == pytest.approx(
        ndcg_at_k(torch.from_numpy(rec.score_matrix(data["val"][0])), torch.from_numpy(data["val"][1]), 100)
    )
    rec.save(tmp_path / "blend")
    loaded = Recommender.load(tmp_path / "blend")
    assert loaded.config["linear_weight"] == 0.3 and isinstance(loaded.net, BlendedScorer)
    assert np.array_equal(loaded.score_matrix(fold), rec.score_matrix(fold))
    with pytest.raises(ValueError, match="linear_weight"):  # items x items would not fit
        Recommender(**{**FAST, "linear_weight": 0.2}).fit(np.eye(2, 20_001, dtype=np.float32))


def test_saves_from_before_the_blend_still_load(tmp_path, fitted: Recommender, data) -> None:
    """A version-2 save (no linear part, no linear_* options in its config) loads as the networks alone."""
    fitted.save(tmp_path / "v2")
    meta_path = tmp_path / "v2" / "config.json"
    meta = json.loads(meta_path.read_text())
    meta["version"] = 2
    for key in ("linear_weight", "linear_l2"):
        del meta["config"][key]
    meta_path.write_text(json.dumps(meta))
    loaded = Recommender.load(tmp_path / "v2")
    assert loaded.config["linear_weight"] == 0.0
    fold = data["test"][0]
    assert np.array_equal(loaded.score_matrix(fold), fitted.score_matrix(fold))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda r: r.recommend([[0]], k=0), "k must be"),
        (lambda r: r.recommend([[0]], k=-3), "k must be"),
        (lambda r: r.recommend({}, k=3), "empty"),
        (lambda r: r.recommend([[999]], k=3), "unknown item"),
        (lambda r: r.score_matrix(np.zeros((2, 7))), "item columns"),
        (lambda r: r.score_matrix(np.zeros(5)), "2-D"),
        (lambda r: r.evaluate(np.zeros((2, 60)), np.zeros((3, 60))), "shape"),
    ],
)
def test_bad_input_raises_value_error(fitted: Recommender, call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(fitted)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Recommender("ease"), "kind"),
        (lambda: Recommender(dropout=1.0), "dropout"),
        (lambda: Recommender(epochs=0), "epochs"),
        (lambda: Recommender(linear_weight=1.0), "linear_weight"),
        (lambda: Recommender(linear_weight=-0.1), "linear_weight"),
        (lambda: Recommender(linear_l2=0.0), "linear_l2"),
        (lambda: Recommender(**FAST).fit(np.zeros((0, 4))), "non-empty"),
        (lambda: Recommender(**FAST).fit(np.full((3, 4), np.nan)), "NaN"),
        (lambda: Recommender(**FAST).fit(np.ones((4, 4)), nonsense=1), "unknown options"),
    ],
)
def test_bad_construction_raises_value_error(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_metrics_match_definitions() -> None:
    scores = torch.tensor([[0.9, 0.8, 0.1, 0.0], [0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)
    held = torch.tensor([[1, 0, 0, 1], [0, 0, 0, 0]], dtype=torch.float32)  # 2nd user skipped
    assert recall_at_k(scores, held, 2) == pytest.approx(0.5)
    ideal = 1 + 1 / np.log2(3)
    assert ndcg_at_k(scores, held, 4) == pytest.approx((1 + 1 / np.log2(5)) / ideal)
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k(scores, held, 0)
    ev = ranking_metrics(scores.numpy(), held.numpy(), (2, 4))
    assert ev["recall@2"] == pytest.approx(0.5) and ev["ndcg@4"] == pytest.approx(
        (1 + 1 / np.log2(5)) / ideal
    )


def test_cli_fit_and_eval(tmp_path) -> None:
    from aigc_recommend.cli import add_parser

    mat = block_matrix(users=120, items=40)
    u, i = np.nonzero(mat)
    path = tmp_path / "inter.csv"
    path.write_text("user_id,item_id,rating\n" + "".join(f"{a},{b},5\n" for a, b in zip(u, i)))
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    model = tmp_path / "m"
    args = parser.parse_args(
        ["recommend", "fit", str(path), "--out", str(model), "--epochs", "5", "--min-rating", "4"]
    )
    assert args.func(args) == 0 and (model / "report.json").is_file()
    report = tmp_path / "r.json"
    args = parser.parse_args(["recommend", "eval", str(model), str(path), "--report", str(report)])
    assert args.func(args) == 0
    assert 0 <= json.loads(report.read_text())["evaluation"]["ndcg@100"] <= 1
    assert json.loads((model / "config.json").read_text())["config"]["linear_weight"] == 0.2  # default
    args = parser.parse_args(
        ["recommend", "fit", str(path), "--out", str(model), "--epochs", "2", "--linear-weight", "0"]
    )
    assert args.func(args) == 0
    assert json.loads((model / "config.json").read_text())["config"]["linear_weight"] == 0.0
