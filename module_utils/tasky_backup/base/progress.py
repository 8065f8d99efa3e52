"""Where a long run is: bytes dumped, compressed and uploaded, the rate and the time left.

A run by hand (`backup.sh -v`) shows a line on the terminal every few seconds; the log gets the
same line at most every LOG_EVERY_S (30 s), so the log of a night's run says how far it got.
The lines are also kept in the run's result (`progress`), which the module returns.

The total is known before the upload starts: in the tar.gz format the dump folder's size (the
dump is done by then; while mongodump writes it, the folder's size against the server's
estimate), in the archive format the server's estimate (dbStats dataSize of the databases), so
"time left" is an estimate there, and says so.
"""

import logging
import threading
import time

LOG = logging.getLogger(__name__)

LOG_EVERY_S = 30.0
TERMINAL_EVERY_S = 5.0
MIB = 1 << 20


def size_text(size):
    for unit, scale in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def duration_text(seconds):
    seconds = int(max(0, seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class Progress:
    """Counters fed by the dump, the compressor and the upload threads, and a thread that
    reports them: on the terminal (only when run by hand: terminal_only lines, logs.py keeps them
    out of the log file) every TERMINAL_EVERY_S, in the log every LOG_EVERY_S."""

    def __init__(self, phase, total, estimated, log_every_s=None, terminal_every_s=None):
        self.phase, self.total, self.estimated = phase, total, estimated
        self.log_every_s = LOG_EVERY_S if log_every_s is None else log_every_s
        self.terminal_every_s = TERMINAL_EVERY_S if terminal_every_s is None else terminal_every_s
        self.dumped_bytes = self.compressed_bytes = self.uploaded_bytes = 0
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.last_logged = self.started
        self.lines = []
        self.stopped = threading.Event()
        self.thread = None

    # fed from the dump reader, the compressor's output thread and the upload threads
    def read(self, n):
        with self.lock:
            self.dumped_bytes += n

    def compressed(self, n):
        with self.lock:
            self.compressed_bytes += n

    def uploaded(self, n):
        with self.lock:
            self.uploaded_bytes += n

    def line(self):
        elapsed = max(time.monotonic() - self.started, 1e-6)
        with self.lock:
            done, packed, sent = self.dumped_bytes, self.compressed_bytes, self.uploaded_bytes
        rate = done / elapsed
        parts = [f"progress ({self.phase}): {size_text(done)}"]
        if self.total:
            share = min(done / self.total, 1.0) * 100
            about = "about " if self.estimated else ""
            parts[0] += f" of {about}{size_text(self.total)} dumped ({share:.0f}%)"
        else:
            parts[0] += " dumped"
        parts.append(f"{size_text(packed)} compressed")
        parts.append(f"{size_text(sent)} uploaded")
        parts.append(f"{size_text(rate)}/s")
        if self.total and rate > 0:
            left = max(self.total - done, 0) / rate
            parts.append(("about " if self.estimated else "") + f"{duration_text(left)} left")
        parts.append(f"{duration_text(elapsed)} elapsed")
        return ", ".join(parts)

    def _report(self):
        while not self.stopped.wait(min(self.terminal_every_s, self.log_every_s)):
            self.report()

    def report(self, final=False):
        """One line: in the log when LOG_EVERY_S has passed since the last (or at the end),
        else on the terminal only."""
        text = self.line()
        now = time.monotonic()
        if final or now - self.last_logged >= self.log_every_s:
            self.last_logged = now
            self.lines.append(text)
            LOG.info("%s", text)
        else:
            LOG.info("%s", text, extra={"terminal_only": True})

    def __enter__(self):
        self.thread = threading.Thread(target=self._report, name="progress", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, kind, _value, _tb):
        self.stopped.set()
        self.thread.join()
        if kind is None:
            self.report(final=True)
        return False
