"""Where cached artefacts (trained classifiers) live, how they are keyed and written.

Writes go through ``aigc_sdk.io``'s atomic writers (temp file + ``os.replace``), so a
reader never sees a half-written file, even with several processes training at once.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch


def cache_dir() -> Path:
    """The SDK cache root: ``$AIGC_SDK_CACHE`` or ``~/.cache/aigc_sdk``."""
    root = os.environ.get("AIGC_SDK_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "aigc_sdk")
    return Path(root)


def fingerprint(tensors: Iterable[torch.Tensor], config: dict[str, Any]) -> str:
    """SHA-256 (hex) of the tensors' dtype, shape and bytes plus the JSON of ``config``."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    h.update(json.dumps(config, sort_keys=True).encode())
    return h.hexdigest()
