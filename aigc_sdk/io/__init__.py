"""Save and load models (``config.json`` + ``model.safetensors``), write reports and image grids.

Nothing here unpickles: weights go through safetensors, everything else through JSON.

Single files are written atomically (temporary file, ``fsync``, ``os.replace``), so a reader
sees either the old file or the new one, never a torn write.

Saved models and artifacts are directories, and they are replaced as a whole
(:func:`atomic_write_dir`): the new directory is written beside the target as a hidden
``.NAME.tmp-PID-XXXX`` sibling, every file and the directory are fsynced, then the target is
renamed to the hidden ``.NAME.old`` sibling, the temporary renamed onto the target and the old
one deleted. A reader sees the old directory or the new one, never a mix; a process killed
between the two renames leaves ``.NAME.old``, which the next load or save restores
(:func:`recover_dir`). Temporaries of dead processes are removed at the next save.

One module per part: :mod:`.formats` (format tags, file names), :mod:`.atomic` (atomic files
and directories, output-path checks), :mod:`.artifacts` (``save_artifact`` / ``load_artifact``),
:mod:`.models` (``save_model`` / ``load`` / ``load_use_case``), :mod:`.images` (PNG grids).
Everything is importable from ``aigc_sdk.io``.
"""

from __future__ import annotations

from aigc_sdk.io.artifacts import load_artifact, save_artifact
from aigc_sdk.io.atomic import (
    atomic_write,
    atomic_write_bytes,
    atomic_write_dir,
    atomic_write_text,
    check_output_path,
    clean_stale_siblings,
    fsync_dir,
    old_dir_path,
    recover_dir,
    write_json,
)
from aigc_sdk.io.formats import (
    CONFIG_FILE,
    FORMAT_PREFIX,
    LEGACY_FORMATS,
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    WEIGHTS_FILE,
    format_tag,
    same_format,
    saved_format_version,
)
from aigc_sdk.io.images import save_image_grid
from aigc_sdk.io.models import (
    find_saved_model,
    load,
    load_use_case,
    model_record,
    read_model_record,
    registered_name,
    save_model,
    state_tensors,
    write_model_files,
)

__all__ = [
    "CONFIG_FILE",
    "FORMAT_PREFIX",
    "LEGACY_FORMATS",
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "WEIGHTS_FILE",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_dir",
    "atomic_write_text",
    "check_output_path",
    "clean_stale_siblings",
    "find_saved_model",
    "format_tag",
    "fsync_dir",
    "load",
    "load_artifact",
    "load_use_case",
    "model_record",
    "old_dir_path",
    "read_model_record",
    "recover_dir",
    "registered_name",
    "same_format",
    "save_artifact",
    "save_image_grid",
    "save_model",
    "saved_format_version",
    "state_tensors",
    "write_json",
    "write_model_files",
]
