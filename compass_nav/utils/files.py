"""File helpers shared by stages: content hashes, and output locations checked before work.

Every command that writes calls :func:`ensure_output_dir` or :func:`ensure_output_file` on its
output locations before it starts working, so a bad ``--out`` (an existing file where a folder
is wanted, a read-only place, a path under a file) is an :class:`OutputError` with exit code 2
instead of a traceback after minutes of work. Failures while writing later (a full disk) are
turned into the same message by ``compass_nav.cli.main`` (:func:`write_error_message`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from compass_nav.utils.errors import ModelError, OutputError

__all__ = [
    "WRITE_ERRNOS",
    "ensure_output_dir",
    "ensure_output_file",
    "file_sha256",
    "resolve_run_file",
    "write_error_message",
]

#: Errors that only a write raises: the user's to fix (free space, a writable place).
_WRITE_ONLY = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
#: Errors of writes and reads alike (the path is named, so the user can tell which).
_ACCESS = {errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR}
#: Every errno that :func:`write_error_message` turns into a user error.
WRITE_ERRNOS = frozenset(_WRITE_ONLY | _ACCESS)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_error_message(exc: OSError) -> str | None:
    """``cannot write <path>: <reason>`` for a write failure; None for other errors (bugs).

    An ``EACCES``/``EPERM``/``ENOTDIR``/``EISDIR`` without a path is not reported this way:
    without the path the user could not act on it, so it keeps its traceback.
    """
    reason = exc.strerror or str(exc)
    if exc.errno in _WRITE_ONLY:
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot write{where}: {reason}"
    if exc.errno in _ACCESS and exc.filename:
        return f"cannot write or read {exc.filename}: {reason}"
    return None


def _existing_ancestor(start: Path, path: str | os.PathLike[str], what: str) -> Path:
    """The deepest existing folder at or above ``start``; a file on the way is an error."""
    for p in (start, *start.parents):
        if p.exists():
            if not p.is_dir():
                raise OutputError(f"cannot write {what} {path}: {p} is a file, not a folder")
            return p
    return Path.cwd()  # unreachable for absolute paths: "/" exists


def _check_writable(folder: Path, path: Path, what: str) -> None:
    # A real write test: os.access says yes to root on a read-only mount, and no ENOSPC.
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".compass_nav_write_test."):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(f"cannot write {what} {path}: {folder}: {reason}") from None


def ensure_output_dir(path: str | os.PathLike[str], what: str = "output folder") -> Path:
    """Check, before any work, that ``path`` can be (or already is) a writable folder.

    Nothing is created: the command creates the folder (and missing parents) when it starts
    writing, so a command refused for another reason leaves nothing behind.

    Args:
        path: The folder a command will write into.
        what: What it is, for the message (``--out``, ``report folder``...).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OutputError: ``path`` or a parent is a file, or the deepest existing folder is not
            writable (read-only filesystem, no permission).
    """
    p = Path(path).absolute()
    if p.exists() and not p.is_dir():
        raise OutputError(f"cannot write {what} {path}: it is a file, not a folder")
    _check_writable(_existing_ancestor(p, path, what), Path(path), what)
    return Path(path)


def ensure_output_file(path: str | os.PathLike[str], what: str = "output file") -> Path:
    """Check, before any work, that the file ``path`` can be written (replaced if it exists).

    Raises:
        OutputError: ``path`` is a folder, a parent is a file, or the folder it goes into is
            not writable.
    """
    p = Path(path).absolute()
    if p.is_dir():
        raise OutputError(f"cannot write {what} {path}: it is a folder, not a file")
    _check_writable(_existing_ancestor(p.parent, path, what), Path(path), what)
    return Path(path)


def resolve_run_file(
    spec: str | os.PathLike[str],
    finals: Sequence[str],
    what: str,
    checkpoints: bool = True,
    error: type[ModelError] = ModelError,
) -> Path:
    """The file a spec names: the file itself, or a run folder's result.

    In a folder: the first of ``finals`` (file names) that exists, else (with
    ``checkpoints``) the newest ``checkpoints/step_*.pt``.

    Raises:
        ModelError: ``error``, naming ``what`` when nothing loadable is there.
    """
    p = Path(spec)
    if p.is_file():
        return p
    if not p.is_dir():
        raise error(f"{what} {p} does not exist")
    for name in finals:
        if (p / name).is_file():
            return p / name
    ckpts = sorted((p / "checkpoints").glob("step_*.pt")) if checkpoints else []
    if ckpts:
        return ckpts[-1]
    wanted = [*finals, "checkpoints/step_*.pt"] if checkpoints else list(finals)
    raise error(f"{p}: a folder without {' or '.join(wanted)} (training not finished?)")
