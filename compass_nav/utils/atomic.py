"""Crash-safe file writes: write a temp file next to the target, fsync, then ``os.replace``.

Checkpoints, exported models, resolved configs and result tables are written through these
helpers so that an interrupted run (Ctrl-C, OOM kill, full disk) never leaves a truncated
file under the final name: readers see either the old content or the new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from compass_nav.utils.jsonsafe import dumps

__all__ = [
    "atomic_save_png",
    "atomic_open",
    "atomic_save_torch",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
]

_DEFAULT_MODE = 0o644


def _fsync_dir(directory: Path) -> None:
    """Flush the directory entry so the rename itself survives a power loss (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` only if the ``with`` block succeeds.

    The temporary file lives in the target's directory (so ``os.replace`` is an atomic rename
    on the same filesystem), is fsynced before the rename and removed if the block raises.
    Parent directories are created. The final file keeps the mode of the file it replaces, or
    gets 0644 when new (``mkstemp`` would otherwise leave 0600).

    Args:
        path: Final destination.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).

    Yields:
        The open temporary file object.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open mode must be 'wb' or 'w', got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        try:
            file_mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            file_mode = _DEFAULT_MODE
        os.chmod(tmp, file_mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(target)  # a full disk's ENOSPC names no file; the CLI shows it
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Atomically write ``data`` to ``path`` (see :func:`atomic_open`)."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write UTF-8 ``text`` to ``path`` (see :func:`atomic_open`)."""
    with atomic_open(path, "w") as fh:
        fh.write(text)


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int = 2) -> None:
    """Atomically write ``obj`` as strict JSON (UTF-8, trailing newline) to ``path``.

    Args:
        path: Final destination.
        obj: Anything ``json.dumps`` accepts, plus numpy numbers and arrays; NaN and
            infinities are written as ``null`` (:mod:`compass_nav.utils.jsonsafe`).
        indent: Indentation passed to ``json.dumps``.
    """
    atomic_write_text(path, dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def atomic_save_torch(obj: Any, path: str | os.PathLike[str]) -> None:
    """Atomically ``torch.save`` ``obj`` to ``path``.

    torch is imported here, not at module import, so that the helpers above stay usable in
    processes that never load torch (ROS nodes running onnxruntime).

    Args:
        obj: A state dict or any object ``torch.save`` accepts.
        path: Final destination (conventionally ``*.pt``).
    """
    import torch

    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


def atomic_save_png(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> None:
    """Render a matplotlib figure to PNG, write it atomically and close the figure."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
