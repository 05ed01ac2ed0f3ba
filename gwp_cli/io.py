"""Atomic writes: a result file is either complete or absent, never half-written."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .errors import GwpError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(data: bytes, path) -> Path:
    """Write to a temporary file beside ``path``, then rename it into place.

    A symbolic link is written through (its target is replaced); a device, FIFO or folder
    at ``path`` is refused rather than replaced.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_file():
        raise GwpError(path, "", "exists and is not a regular file", "choose another output path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GwpError(path.parent, "", f"cannot be created as a folder ({exc.strerror or exc})",
                       "choose an output path in a writable folder") from None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise GwpError(path.parent, "", f"cannot be written ({exc.strerror or exc})",
                       "choose an output path in a writable folder") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(text: str, path) -> Path:
    return write_bytes_atomic(text.encode(), path)


def write_csv_atomic(table, path) -> Path:
    """Write a pandas DataFrame as CSV (fixed float format, so a rerun gives the same bytes)."""
    return write_text_atomic(table.to_csv(index=False, float_format="%.10g", lineterminator="\n"), path)


def write_json_atomic(obj, path) -> Path:
    return write_text_atomic(json.dumps(obj, indent=2, sort_keys=True) + "\n", path)
