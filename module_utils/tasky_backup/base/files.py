"""Root-only files and directories, opened so that nothing planted in the way is followed.

The engine runs as root and writes in shared places (/var/log, /run). A symlink, a hard link or
a file of another user planted at one of its paths must not make root write elsewhere, so each
path is opened with O_NOFOLLOW and checked on the open descriptor before it is used.
"""

import contextlib
import logging
import os
import shutil
import stat
import tempfile

from .errors import BackupError

LOG = logging.getLogger(__name__)

# Scratch directories of a run in the work directory: a backup's dump, a restore's or a drill's
# download. What an earlier run that was killed left there is removed by the next one.
SCRATCH_PREFIXES = ("run-", "restore-")


def private_dir(path):
    """Makes path (0700) or checks the one there: a real directory, not a symlink, owned by this
    user and writable by nobody else."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise BackupError(f"{path} is not a directory (a symlink or file is in the way); refusing to use it")
    refuse_foreign(path, info, "directory")
    return path


def refuse_foreign(path, info, what):
    if info.st_uid != os.geteuid():
        raise BackupError(f"{what} {path} belongs to uid {info.st_uid}, not to this user; refusing to use it")
    if info.st_mode & 0o022:
        raise BackupError(f"{what} {path} is writable by others (mode {stat.S_IMODE(info.st_mode):04o}); refusing it")


def open_private(path, flags, mode=0o600):
    """os.open with O_NOFOLLOW; the file must be a plain file of this user with one link."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise BackupError(f"{path} is not a plain file with one link; refusing to use it")
        refuse_foreign(path, info, "file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_append(path):
    """A text file object appending to path (made 0600 if missing): the log."""
    try:
        fd = open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except OSError as exc:
        raise BackupError(f"cannot open {path} safely: {exc.strerror} (a symlink in the way?)") from None
    return os.fdopen(fd, "a", encoding="utf-8")


def read_text(path):
    """The text of a file of this user; None when there is none."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BackupError(f"cannot read {path} safely: {exc.strerror} (a symlink in the way?)") from None
    with os.fdopen(fd, encoding="utf-8") as handle:
        return handle.read()


def read_secret(path, what):
    """The text of a file holding a secret (`what` names it in errors): it must exist and be
    readable by its owner only."""
    text = read_text(path)
    if text is None:
        raise BackupError(f"the {what} {path} does not exist")
    if os.stat(path).st_mode & 0o077:
        raise BackupError(f"the {what} {path} can be read by others; make it 0600")
    return text


def write_atomic(path, text):
    """Replaces path with text: a new 0600 file in the same directory, fsynced, renamed over the
    old one (rename replaces a planted symlink itself, never its target), directory fsynced."""
    directory = private_dir(os.path.dirname(os.path.abspath(path)))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_leftovers(work_dir):
    """Removes the scratch directories of earlier runs that were killed (SIGKILL, a reboot):
    the caller holds the engine's lock, which proves none of them is running."""
    private_dir(work_dir)
    for name in sorted(os.listdir(work_dir)):
        path = os.path.join(work_dir, name)
        if not name.startswith(SCRATCH_PREFIXES):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        LOG.warning("removed %s, left by an earlier run that did not finish", path)


@contextlib.contextmanager
def scratch_dir(work_dir, prefix):
    """A root-only scratch directory in the work directory, removed on leaving, however it ends."""
    path = tempfile.mkdtemp(prefix=prefix, dir=private_dir(work_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
