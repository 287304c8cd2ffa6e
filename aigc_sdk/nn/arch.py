"""The one rule for choosing a network architecture from a data shape.

Conv and ResNet networks work on square images whose side is ``base * 2**stages`` with a base
of at most 8 pixels and at least two stride-2 stages: 8 to 32 in steps of 4 (28 included), and
40, 48, 56, 64, 80, ..., 256 and beyond. Vectors ``(D,)`` use MLPs. An image size outside that set is an
error listing the sizes, never a silent fallback to an MLP: pass ``arch="mlp"`` to flatten it.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Architectures every model family understands; ``"auto"`` picks one from the data shape.
ARCHS = ("auto", "conv", "resnet", "mlp")

#: Largest side of the first (generator) / last (discriminator) feature map.
MAX_BASE = 8
#: Fewest stride-2 stages a conv stack has (the layout of the original 8/28/32 px networks).
MIN_STAGES = 2
#: Largest image side the conv stacks accept.
MAX_IMAGE_SIZE = 1024


def conv_stages(size: int) -> tuple[int, int] | None:
    """``(base, stages)`` with ``base * 2**stages == size`` for a supported side, else ``None``.

    The fewest stages (at least two) that bring the side down to ``MAX_BASE`` or less.
    """
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= MAX_IMAGE_SIZE:
        return None
    stages = MIN_STAGES
    while size % (2**stages) == 0:
        base = size // 2**stages
        if base <= MAX_BASE:
            return base, stages
        stages += 1
    return None


#: Every square image side the conv and ResNet networks support.
SUPPORTED_IMAGE_SIZES: tuple[int, ...] = tuple(s for s in range(8, MAX_IMAGE_SIZE + 1) if conv_stages(s))


def _sizes_text(limit: int = 256) -> str:
    shown = [str(s) for s in SUPPORTED_IMAGE_SIZES if s <= limit]
    return ", ".join(shown) + f", ... up to {MAX_IMAGE_SIZE}"


def is_image_shape(data_shape: Sequence[int]) -> bool:
    """Whether ``data_shape`` is ``(C, H, W)`` (an image, whatever its size)."""
    return len(data_shape) == 3


def check_image_shape(data_shape: Sequence[int], who: str) -> tuple[int, int, int]:
    """Return ``(C, S, S)`` or raise a ``ValueError`` that names ``who`` and lists the sizes."""
    shape = tuple(int(d) for d in data_shape)
    if len(shape) != 3:
        raise ValueError(f"{who} needs image data of shape (C, H, W), got data_shape {list(shape)}")
    c, h, w = shape
    if c < 1 or h != w or conv_stages(h) is None:
        raise ValueError(
            f"{who} supports square images (C, S, S) with C >= 1 and S in {_sizes_text()}; "
            f"got data_shape {list(shape)}. Resize the images, or pass arch='mlp' to flatten them."
        )
    return c, h, w


def choose_arch(arch: str, data_shape: Sequence[int]) -> str:
    """Resolve ``arch`` for ``data_shape``: ``"auto"`` is ``"conv"`` for images, ``"mlp"`` for vectors.

    ``"conv"`` and ``"resnet"`` need a supported image size (the error lists them); ``"mlp"``
    works on anything (images are flattened).
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if arch == "mlp":
        return arch
    if arch == "auto":
        if not is_image_shape(data_shape):
            return "mlp"
        arch = "conv"
    check_image_shape(data_shape, f"arch={arch!r}")
    return arch


__all__ = [
    "ARCHS",
    "SUPPORTED_IMAGE_SIZES",
    "check_image_shape",
    "choose_arch",
    "conv_stages",
    "is_image_shape",
]
