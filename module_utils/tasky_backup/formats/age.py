"""age encryption (age-encryption.org/v1) of what a backup stores, over either format: the team
decrypts with the stock tool (`age -d -i key.txt latest.tar.gz.age | tar -xz`).

pyrage (PyPI, pinned in the engine's venv) does the cryptography. Its encrypt_io and decrypt_io
read from a file object and write to another, so each runs in a thread of its own fed through a
bounded in-memory pipe: the backup's gzip writes into an AgeWriter as into any file, a restore
reads an AgeReader as it would read the download. Nothing is held whole in memory.
"""

import threading

from ..base.errors import BackupError
from ..base.files import read_secret

SUFFIX = ".age"
PIPE_BYTES = 8 << 20  # buffered between the two sides at most


def pyrage_module():
    try:
        import pyrage
    except ImportError:
        raise BackupError("pyrage is not installed (the mongodb_backup role puts it in the engine's venv)") from None
    return pyrage


def parse_recipients(texts):
    """pyrage recipients of age public keys (age1...) and SSH public keys (ssh-ed25519, ssh-rsa);
    a bad one is refused, naming it."""
    pyrage = pyrage_module()
    recipients = []
    for text in texts:
        kind = pyrage.ssh.Recipient if text.startswith("ssh-") else pyrage.x25519.Recipient
        try:
            recipients.append(kind.from_str(text.strip()))
        except Exception as exc:  # noqa: BLE001 - pyrage's RecipientError, named
            raise BackupError(f"age_recipients: '{text}' is not an age or SSH public key ({exc})") from None
    return recipients


def read_identities(path):
    """The age identities (AGE-SECRET-KEY-1... lines) of a root-only 0600 file; comments skipped.
    The file holds a secret: it is never logged, never passed in argv."""
    pyrage = pyrage_module()
    identities = []
    for line in read_secret(path, "age identity file").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                identities.append(pyrage.x25519.Identity.from_str(line))
            except Exception:  # noqa: BLE001 - never echo a secret's text
                raise BackupError(f"the age identity file {path} holds a line that is not an age identity") from None
    if not identities:
        raise BackupError(f"the age identity file {path} holds no identity")
    return identities


class Pipe:
    """Bytes handed from one thread to another, at most PIPE_BYTES buffered: put() blocks while
    it is full, read() while it is empty; close() is the end of the data, abort(exc) makes both
    sides raise."""

    def __init__(self, limit=PIPE_BYTES):
        self.limit, self.buffer, self.closed, self.error = limit, bytearray(), False, None
        self.ready = threading.Condition()

    def put(self, data):
        with self.ready:
            while len(self.buffer) >= self.limit and self.error is None:
                self.ready.wait()
            if self.error is not None:
                raise self.error
            self.buffer += data
            self.ready.notify_all()
        return len(data)

    write = put

    def read(self, n=-1):
        with self.ready:
            while not self.buffer and not self.closed and self.error is None:
                self.ready.wait()
            if self.error is not None:
                raise self.error
            n = len(self.buffer) if n is None or n < 0 else n
            data = bytes(self.buffer[:n])
            del self.buffer[:n]
            self.ready.notify_all()
            return data

    def flush(self):
        """Nothing to flush (pyrage and zlib-ng call it)."""

    def close(self):
        with self.ready:
            self.closed = True
            self.ready.notify_all()

    def abort(self, exc):
        with self.ready:
            self.error = self.error or exc
            self.ready.notify_all()


class AgeWriter:
    """A write-only file object: what is written reaches `out` encrypted to `recipients`.
    finish() writes age's last chunk and must be called before `out` is completed; halt()
    stops it (the run failed elsewhere), and out.halt() with it."""

    def __init__(self, out, recipients):
        self.out, self.pipe, self.error = out, Pipe(), None
        self.thread = threading.Thread(target=self._encrypt, args=(recipients,), name="age-encrypt", daemon=True)
        self.thread.start()

    def _encrypt(self, recipients):
        try:
            pyrage_module().encrypt_io(self.pipe, self.out, recipients)
        except BaseException as exc:  # noqa: BLE001 - raised in the writer's thread
            self.error = exc
            self.pipe.abort(BackupError(f"age encryption failed: {exc}"))

    def write(self, data):
        return self.pipe.put(data)

    def flush(self):
        """Nothing to flush: the encrypting thread takes what is written as it comes."""

    def finish(self):
        self.pipe.close()
        self.thread.join()
        if self.error is not None:
            raise BackupError(f"age encryption failed: {self.error}")

    def halt(self):
        self.pipe.abort(BackupError("aborted"))
        if hasattr(self.out, "halt"):
            self.out.halt()
        self.thread.join()


class AgeReader:
    """A readable file object: the plaintext of the age stream `source` (a file object) for one
    of `identities`. A wrong identity or a damaged stream raises from read()."""

    def __init__(self, source, identities):
        self.pipe, self.failed = Pipe(), None
        self.thread = threading.Thread(target=self._decrypt, args=(source, identities), name="age-decrypt", daemon=True)
        self.thread.start()

    def _decrypt(self, source, identities):
        try:
            pyrage_module().decrypt_io(source, self.pipe, identities)
            self.pipe.close()
        except BaseException as exc:  # noqa: BLE001 - raised in the reader's thread
            self.failed = exc
            self.pipe.abort(BackupError(f"the backup cannot be decrypted with this host's age identity: {exc}"))

    def read(self, n=-1):
        return self.pipe.read(n)

    def close(self):
        """Stops reading (the rest is not wanted) and waits for the thread to end: it may be in a
        read of the source, which only then is the caller's again."""
        self.pipe.abort(BackupError("closed"))
        self.thread.join()
