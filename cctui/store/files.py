"""Low-level file operations the store relies on for crash safety."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import BinaryIO

#: Modes of what the store creates: the data may hold credentials typed into a macro
#: (the macro journal) and what receivers answered, so only the owner may read it.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

#: (inode, size, mtime_ns) of a file, or None when it does not exist.
Signature = tuple[int, int, int] | None


def signature(path: Path) -> Signature:
    """What we compare to notice that another process changed ``path``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` survive a power loss."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; nothing more we can do
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_private(path: Path, flags: int) -> BinaryIO:
    """``path`` opened for binary writing with ``flags``; created ``0600`` whatever the
    umask (an existing file keeps its mode)."""
    return os.fdopen(os.open(path, flags, PRIVATE_FILE), "ab" if flags & os.O_APPEND else "wb")


def make_private_dir(path: Path) -> bool:
    """Create ``path`` (and missing parents) with the last one ``0700``; True if it
    already existed."""
    existed = path.is_dir()
    if not existed:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # another process made it just now
            return True
    return existed


def loose_mode(path: Path) -> int | None:
    """The mode of directory ``path`` if group or others may use it, else None."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return None
    return mode if mode & 0o077 else None


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers and crashes see old or new, never half.

    Write a temp file in the same directory, fsync it, ``os.replace`` it over the target,
    then fsync the directory so the rename itself is durable.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        # A full disk: the old file is intact; do not leave a half-written temp file
        # taking the space that is missing.
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        _name(exc, path)
        raise
    fsync_dir(path.parent)


def remove_stale_temps(path: Path) -> None:
    """Delete temp files left by a writer that was killed mid-write (call under the lock)."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        try:
            stale.unlink()
        except OSError:
            pass


def append_durably(path: Path, data: bytes, *, valid_length: int) -> int:
    """Append ``data`` after the first ``valid_length`` bytes of ``path``; return the new size.

    Anything past ``valid_length`` is a torn tail from a writer that died mid-append; it is
    cut off first so the new line does not get glued onto garbage.
    """
    created = not path.exists()
    try:
        with open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND) as handle:
            if handle.tell() != valid_length:
                handle.truncate(valid_length)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
    except OSError as exc:  # a torn tail is cut by the next append (valid_length)
        _name(exc, path)
        raise
    if created:
        fsync_dir(path.parent)
    return size


def _name(exc: BaseException, path: Path) -> None:
    """A failed ``write()`` does not say which file; errors name the file at fault."""
    if isinstance(exc, OSError) and not exc.filename:
        exc.filename = str(path)


def write_failure(exc: OSError, fallback: Path) -> str:
    """One sentence for a write that failed: the file, and why in plain words."""
    where = exc.filename or fallback
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        why = "the disk is full"
    elif exc.errno == errno.EROFS:
        why = "the file system is read-only"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "permission denied"
    else:
        why = exc.strerror or str(exc)
    return f"cannot write {where}: {why}; the data already saved there is intact."
