"""Files under a root that strangers can tamper with (the cache): every write and delete
stays inside the root and never follows a symbolic link.

- A folder on the way that is a symlink, or a file where a folder belongs, is set aside
  into <root>/quarantine (the link itself is moved, never its target) and made afresh.
- Files are written to a temporary name and renamed into place: a reader sees the whole
  file or none, and a rename replaces a link rather than writing through it.
- Reads open with O_NOFOLLOW and O_NONBLOCK and accept only regular files of bounded size,
  so a FIFO or a device named like a data file cannot hang a reader.

Functions raise OSError; callers turn it into their own one-line message.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

QUARANTINE = "quarantine"
MAX_NAME = 255  # bytes in one path component on every common file system


def check_part(part: str) -> None:
    """One path component we create: never empty, '.', '..', a separator or a NUL."""
    if part in ("", ".", "..") or "/" in part or "\x00" in part or len(part.encode()) > MAX_NAME:
        raise OSError(errno.EINVAL, f"not a safe file name: {part[:40]!r}")


def inside(root: Path, path: Path) -> bool:
    """Lexically inside root (no symlink resolved: what we then touch is checked link by
    link)."""
    root_text = os.path.normpath(os.path.abspath(root))
    path_text = os.path.normpath(os.path.abspath(path))
    return path_text == root_text or path_text.startswith(root_text + os.sep)


def set_aside(root: Path, path: Path) -> Path | None:
    """Move an entry into root/quarantine (a link is moved, not followed). None if it is
    already gone or cannot be moved."""
    folder = root / QUARANTINE
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder)
    if os.path.islink(folder) or not folder.is_dir():
        return None
    target = folder / f"{path.name}-{time.time_ns()}"
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def ensure_dir(root: Path, *parts: str) -> Path:
    """root/parts..., each a real folder, made if missing. The root is the operator's
    choice and may itself be a link; nothing below it may be."""
    os.makedirs(root, exist_ok=True)
    current = root
    for part in parts:
        check_part(part)
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            info = None
        if info is not None and not stat.S_ISDIR(info.st_mode):  # a link or a file
            set_aside(root, current)
            info = None
        if info is None:
            with contextlib.suppress(FileExistsError):
                os.mkdir(current)
            if os.path.islink(current) or not current.is_dir():  # lost a race to a link
                raise OSError(errno.ELOOP, f"{current} is not a folder")
    return current


def write_atomic(root: Path, folder: Path, name: str, data: bytes) -> Path:
    """Write folder/name (folder made safe first) in one rename."""
    check_part(name)
    parts = Path(os.path.relpath(folder, root)).parts if folder != root else ()
    folder = ensure_dir(root, *[p for p in parts if p != "."])
    target = folder / name
    if os.path.isdir(target) and not os.path.islink(target):
        set_aside(root, target)  # a folder where the file belongs
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def remove(root: Path, path: Path) -> bool:
    """Delete an entry under root without following links; False if it was not there."""
    if not inside(root, path) or os.path.normpath(path) == os.path.normpath(root):
        raise OSError(errno.EPERM, f"{path} is not inside {root}")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)  # never follows links inside; raises on a read-only disk
    else:
        os.unlink(path)  # a file, or a link itself
    return True


def open_regular(path: Path, limit: int, follow: bool = False) -> BinaryIO:
    """A regular file of at most `limit` bytes, open for reading. Links are refused unless
    `follow` (a user's own data file may be one; the cache's entries never are)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"{path} is not a regular file")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"{path} is larger than {limit // 2**20} MB")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, limit: int, follow: bool = False) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see open_regular)."""
    with open_regular(path, limit, follow) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew since it was opened
        raise OSError(errno.EFBIG, f"{path} is larger than {limit // 2**20} MB")
    return data


def real_folder(root: Path, *parts: str) -> Path | None:
    """root/parts..., if each part is a real folder (not a link, not a file), else None: a
    link planted in the cache must not lead a reader elsewhere. The root is the operator's
    choice and may itself be a link."""
    current = Path(root)
    for part in parts:
        check_part(part)
        current = current / part
        try:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                return None
        except OSError:
            return None
    return current


def free_bytes(path: Path) -> int:
    """Free space on the file system holding path (or its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free
