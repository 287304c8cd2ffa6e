"""The ``iwae`` evaluator, evaluate_model on in-memory models, and what reports show."""

from __future__ import annotations

import argparse
import json
import math

import pytest
import torch

import aigc_sdk
from aigc_metrics.iwae import IWAE
from aigc_sdk.evaluation import evaluate, evaluate_model, quality_warnings, report_to_markdown


def test_iwae_evaluator_matches_the_models_log_likelihood():
    torch.manual_seed(0)
    vae = aigc_sdk.create_model("vae", data_shape=[1, 8, 8])  # unconditional
    x = aigc_sdk.load_dataset("digits").load("test").tensors[0][:40]
    ev = aigc_sdk.get_evaluator("iwae", model=vae, k=8, seed=3)
    ev.update(real=x[:25])
    ev.update(real=x[25:])
    out = ev.compute()
    g = torch.Generator().manual_seed(3)  # one stream across updates, as the evaluator does
    ll = torch.cat(
        [vae.log_likelihood(x[:25], k=8, generator=g), vae.log_likelihood(x[25:], k=8, generator=g)]
    )
    assert out["iwae_nll"] == pytest.approx(float(-ll.mean()), rel=1e-6)
    assert out["iwae_bpd"] == pytest.approx(out["iwae_nll"] / (64 * math.log(2)), rel=1e-12)
    assert out["iwae_nll_sem"] == pytest.approx(float(ll.std() / math.sqrt(40)), rel=1e-6)
    pre = IWAE()
    pre.update(log_likelihood=ll, dims=64)
    assert pre.compute()["iwae_nll"] == pytest.approx(out["iwae_nll"], rel=1e-6)
    assert set(ev.higher_is_better) == {"iwae_nll", "iwae_nll_sem", "iwae_bpd"}


def test_iwae_rejects_models_without_a_likelihood_and_bad_input():
    gan = aigc_sdk.create_model("gan", dataset="digits")
    with pytest.raises(ValueError, match=r"metric 'iwae' needs a likelihood model .*family 'gan'"):
        aigc_sdk.get_evaluator("iwae", model=gan)
    with pytest.raises(ValueError, match="k must be a positive int"):
        IWAE(k=0)
    with pytest.raises(ValueError, match="not fake"):
        IWAE().update(fake=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="dims"):
        IWAE().update(log_likelihood=torch.zeros(3))
    with pytest.raises(ValueError, match="iwae needs data"):
        IWAE().compute()


def test_evaluate_iwae_on_a_saved_vae_and_clear_errors_elsewhere(tmp_path, tmp_cache):
    torch.manual_seed(0)
    aigc_sdk.create_model("cvae", dataset="digits").save(str(tmp_path / "cvae"))
    rep = evaluate(tmp_path / "cvae", dataset="digits", metrics=("iwae",), n=50, iwae_k=4)
    m = rep["metrics"]
    assert set(m) == {"iwae_nll", "iwae_nll_sem", "iwae_bpd"} and m["iwae_nll"] > 0
    assert rep["likelihood"]["iwae"]["n"] == 50 and rep["likelihood"]["iwae"]["conditional"]
    assert rep["metric_info"]["iwae_nll"]["split"] == "test"
    assert rep["extractor"] is None and "classifier" not in rep  # no classifier was trained
    assert "| iwae_bpd |" in report_to_markdown(rep) and "50 test (k=4)" in report_to_markdown(rep)
    again = evaluate(tmp_path / "cvae", dataset="digits", metrics=("iwae",), n=50, iwae_k=4)
    assert again["metrics"] == m  # seeded

    aigc_sdk.create_model("gan", dataset="digits").save(str(tmp_path / "gan"))
    msg = r"metric 'iwae' needs a likelihood model \(VAE family\); model family 'gan' has no log-likelihood"
    with pytest.raises(ValueError, match=msg):
        evaluate(tmp_path / "gan", dataset="digits", metrics=("fid", "iwae"), n=50)
    png = tmp_path / "pngs"
    png.mkdir()
    with pytest.raises(ValueError, match="folder of PNG images has no log-likelihood"):
        evaluate(png, dataset="digits", metrics=("iwae",), n=50)


def test_cli_iwae_error_exits_2(tmp_path, tmp_cache, capsys):
    aigc_sdk.create_model("gan", dataset="digits").save(str(tmp_path / "gan"))
    from aigc_sdk.commands import eval as eval_cmd

    parser = argparse.ArgumentParser()
    eval_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["eval", str(tmp_path / "gan"), "--dataset", "digits", "--metrics", "fid,iwae"])
    assert args.func(args) == 2
    assert "metric 'iwae' needs a likelihood model" in capsys.readouterr().err


def test_evaluate_model_in_memory_leaves_modes_and_rng_alone(tmp_cache):
    torch.manual_seed(0)
    gan = aigc_sdk.create_model("cgan", dataset="digits")
    gan.train()
    modes = [m.training for m in gan.modules()]
    before = {k: v.clone() for k, v in gan.state_dict().items()}
    rng = torch.get_rng_state()
    rep = evaluate_model(gan, dataset="digits", n=200)
    assert [m.training for m in gan.modules()] == modes
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(v, before[k]) for k, v in gan.state_dict().items())
    m = rep["metrics"]
    assert {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "cas"} <= set(m)
    assert m["kid_std"] > 0  # KID subsets of 100 out of 200
    assert rep["n_real"] == rep["n_fake"] == 200 and rep["source_kind"] == "model"
    clf = aigc_sdk.get_feature_extractor("classifier", dataset="digits")
    assert rep["extractor"] == clf.name == f"classifier-digits-{clf.weights_sha256[:8]}"
    assert rep["extractor_weights_sha256"] == clf.weights_sha256
    assert rep["metric_info"]["recall"] == {
        "metric": "prc", "n_real": 200, "n_fake": 200, "extractor": clf.name
    }  # fmt: skip
    # an untrained generator: both alarms fire, in the report and in the Markdown
    assert rep["quality_warnings"] == quality_warnings(m)
    md = report_to_markdown(rep)
    assert f"| 200 real / 200 fake | `{clf.name}` |" in md
    for w in rep["quality_warnings"]:
        assert f"- {w}" in md
    assert aigc_sdk.evaluate(gan, dataset="digits", n=200)["metrics"] == m  # evaluate accepts a model
    with pytest.raises(ValueError, match="model must be a GenerativeModel"):
        evaluate_model(object(), dataset="digits")
    with pytest.raises(ValueError, match="source must be"):
        evaluate(3, dataset="digits")  # type: ignore[arg-type]


def test_quality_warnings():
    assert quality_warnings({"precision": 0.9, "recall": 0.8}) == []
    assert quality_warnings({}) == []
    w = quality_warnings({"precision": 0.2, "recall": 0.05})
    assert len(w) == 2 and w[0].startswith("mode collapse: recall 0.050") and w[1].startswith("low fidelity")
    assert quality_warnings({"recall": 0.4}, min_recall=0.5)[0].startswith("mode collapse")
    assert quality_warnings({"recall": float("nan")}) == []


def test_report_json_has_warnings_and_counts(tmp_path, tmp_cache):
    gan = aigc_sdk.create_model("gan", dataset="digits")
    rep = evaluate_model(gan, dataset="digits", metrics=("prc",), n=100)
    from aigc_sdk.evaluation import write_report

    write_report(rep, json_path=tmp_path / "r.json", markdown_path=tmp_path / "r.md")
    data = json.loads((tmp_path / "r.json").read_text())
    assert (
        data["n_real"] == 100 and data["n_fake"] == 100 and data["extractor"].startswith("classifier-digits-")
    )
    assert data["quality_warnings"] and "## Warnings" in (tmp_path / "r.md").read_text()
