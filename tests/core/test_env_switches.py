"""Environment switches are read one way: flags, name lists, normalisation, unknown names warned."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from aigc_sdk.env import env_flag, env_names, warn_unknown_names

from .conftest import make_distribution, run_py

GOOD = """
from aigc_sdk import hookimpl

@hookimpl
def register_models(register):
    register("toy", "toy_impl:make", summary="toy model", family="toy")
"""


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " yes ", "On"])
def test_flag_on(value: str) -> None:
    assert env_flag("X", {"X": value})


@pytest.mark.parametrize("value", ["", "0", "false", "No", " off "])
def test_flag_off(value: str) -> None:
    assert not env_flag("X", {"X": value})
    assert not env_flag("X", {})


def test_unknown_flag_value_warns_and_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aigc_sdk"):
        assert not env_flag("AIGC_SDK_DEBUG", {"AIGC_SDK_DEBUG": "maybe"})
    assert "AIGC_SDK_DEBUG='maybe'" in caplog.text


def test_name_lists_normalise_and_ignore_empties() -> None:
    assert env_names("L", {"L": " aigc-gan, ,Aigc_VAE,"}) == {"aigc_gan", "aigc_vae"}
    assert env_names("L", {"L": " , "}) is None  # empty is the same as unset
    assert env_names("L", {}) is None


def test_unknown_names_are_warned(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aigc_sdk"):
        warn_unknown_names("AIGC_SDK_PLUGINS", {"gan", "nope"}, ["gan", "aigc-sdk"])
    assert "nope" in caplog.text and "gan," not in caplog.text


def test_disable_list_matches_across_dash_and_underscore(site: Path) -> None:
    make_distribution(site, "aigc-toy-plugin", {"toy_plugin": "toy_plugin"}, {"toy_plugin": GOOD})
    code = "import aigc_sdk, json; print(json.dumps(aigc_sdk.list_models()))"
    assert "toy" in json.loads(run_py(code, site).stdout)
    for spelling in ("AIGC-Toy-Plugin", "toy-plugin", " toy_plugin , "):
        proc = run_py(code, site, env={"AIGC_SDK_DISABLE_PLUGINS": spelling})
        assert "toy" not in json.loads(proc.stdout), spelling
    proc = run_py(code, site, env={"AIGC_SDK_DISABLE_PLUGINS": "toy-plugn"})
    assert "toy" in json.loads(proc.stdout)
    assert "toy_plugn" in proc.stderr  # the misspelt name is reported
