"""Networks as named components of a model: parse ``generator="name"`` or
``{"name": ..., **config}``, build it through the registry, and record where it came from.

A model stores each component's record in ``get_config()``: its name, its own config, and the
plugin and distribution (with version) that provided it, so :func:`aigc_sdk.load` rebuilds
exactly the same network, or says which plugin to install when it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from aigc_sdk.errors import PluginLoadError, UnknownNameError

#: Keys of a component record that describe its origin rather than configure it.
ORIGIN_KEYS = ("plugin", "distribution", "version")


def parse_component(kind: str, spec: Any, default: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Split ``spec`` (``None``, a name, or ``{"name": ..., **config}``) into
    ``(name, config, origin)``; ``None`` means the ``default`` network."""
    if spec is None:
        return default, {}, {}
    if isinstance(spec, str):
        if not spec:
            raise ValueError(f"{kind} must be a registered {kind} name or {{'name': ..., **config}}, got ''")
        return spec, {}, {}
    if isinstance(spec, Mapping):
        body = dict(spec)
        name = body.pop("name", None)
        if not isinstance(name, str) or not name:
            raise ValueError(
                f"{kind} config must have a 'name' key naming a registered {kind}, got {dict(spec)!r}"
            )
        inner = body.pop("config", None)
        origin = {k: body.pop(k) for k in ORIGIN_KEYS if k in body}
        if inner is not None:  # the recorded form: {"name", "config", "plugin", ...}
            if body or not isinstance(inner, Mapping):
                raise ValueError(
                    f"{kind} record must be {{'name', 'config', 'plugin', ...}}, got {dict(spec)!r}"
                )
            body = dict(inner)
        return name, body, origin
    raise ValueError(
        f"{kind} must be a registered {kind} name or a dict {{'name': ..., **config}}, "
        f"got {type(spec).__name__}"
    )


def build_component(
    kind: str,
    spec: Any,
    *,
    default: str,
    data_shape: Sequence[int],
    num_classes: int | None,
    latent_dim: int,
    model: str,
    extra: Mapping[str, Any] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Build the ``kind`` network ``spec`` asks for and return ``(network, record)``.

    ``extra`` holds config the model itself adds (e.g. ``aux_classifier=True``); it is passed
    to the factory but not recorded, since the model adds it again when rebuilt. ``model``
    names the model family in error messages.
    """
    from aigc_sdk.registry import NETWORK_ARGS, create_network, get_network_registration

    name, config, origin = parse_component(kind, spec, default)
    for key in NETWORK_ARGS:  # checked here too: passing them twice would be a bare TypeError
        if key in config:
            raise ValueError(
                f"{key} is set by the model for {kind} {name!r}; remove it from the {kind} config"
            )
    plugin = origin.get("plugin")
    try:
        # A saved model resolves by the plugin that provided the network, not by a short name
        # another plugin might also register.
        reg = get_network_registration(kind, f"{plugin}:{name}" if plugin else name)
    except UnknownNameError as exc:
        if plugin:
            dist, version = origin.get("distribution"), origin.get("version")
            where = f"distribution {dist!r}" + (f" {version}" if version else "") if dist else "a plugin"
            install = f"install it (pip install {dist})" if dist else "install the plugin that provides it"
            raise PluginLoadError(
                f"{model} needs {kind} {name!r} from plugin {plugin!r} ({where}), which is not loaded: "
                f"{install}, or check `aigc plugins`"
            ) from exc
        raise
    full_name = f"{reg.plugin}:{reg.name}" if ":" in name else reg.name
    net = create_network(
        kind,
        full_name,
        data_shape=data_shape,
        num_classes=num_classes,
        latent_dim=latent_dim,
        **config,
        **dict(extra or {}),
    )
    record = {"name": reg.name, "config": config, "plugin": reg.plugin}
    record.update(_distribution_of(reg.plugin, reg.distribution))
    return net, record


def _distribution_of(plugin: str, distribution: str | None) -> dict[str, Any]:
    from aigc_sdk.registry import default_registry

    info = default_registry().host.plugins.get(plugin)
    version = info.version if info is not None else None
    return {"distribution": distribution, "version": version}


def build_encoder_decoder(
    config: dict[str, Any],
    encoder: Any,
    decoder: Any,
    shape: Sequence[int],
    num_classes: int | None,
    latent_dim: int,
    encoder_outputs: int,
    family: str,
) -> tuple[nn.Module, nn.Module]:
    """Build a model's encoder and decoder by registered name and record them in ``config``.

    Without an explicit spec, the ``config["arch"]`` networks are built from the model-level
    ``channels`` / ``hidden`` options. ``encoder_outputs`` is the width the encoder must return
    (``2 * latent_dim`` for a VAE's ``(mu, logvar)``).
    """
    arch = config["arch"]
    defaults: dict[str, Any] = {"hidden": config["hidden"]}
    if arch != "mlp":
        defaults["channels"] = config["channels"]
    common = {"data_shape": shape, "num_classes": num_classes, "model": family}
    enc, config["encoder"] = build_component(
        "encoder",
        encoder if encoder is not None else {"name": arch, **defaults},
        default=arch,
        latent_dim=encoder_outputs,
        **common,  # type: ignore[arg-type]
    )
    dec, config["decoder"] = build_component(
        "decoder",
        decoder if decoder is not None else {"name": arch, **defaults},
        default=arch,
        latent_dim=latent_dim,
        **common,  # type: ignore[arg-type]
    )
    return enc, dec


__all__ = ["ORIGIN_KEYS", "build_component", "build_encoder_decoder", "parse_component"]
