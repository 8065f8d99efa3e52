"""MongoDB's own tools: mongodump into a folder or as an archive stream, mongorestore from a
folder or an archive, each under a time limit, logging its last lines. The password is in a
root-only --config file, never in argv."""

import collections
import logging
import re
import shlex
import subprocess
import threading

from ..base.errors import BackupError

LOG = logging.getLogger(__name__)


class ToolFailed(BackupError):
    """A tool exited non-zero or reported documents it could not restore; `lines` are its last
    lines of output (mongorestore's "Failed: ..." lines say why)."""

    def __init__(self, message, lines=()):
        super().__init__(message)
        self.lines = list(lines)


def connection_args(settings, user=None, password_file=None):
    return [
        f"--host={settings.mongodb_host}",
        f"--port={settings.mongodb_port}",
        f"--username={user or settings.mongodb_user}",
        f"--authenticationDatabase={settings.mongodb_auth_db}",
        f"--config={password_file or settings.mongodump_config}",
    ]


def run_tool(settings, name, cmd):
    """Runs a MongoDB tool under the dump time limit; logs its last lines; returns its stderr."""
    limit = settings.dump_timeout_s
    LOG.info("running %s", shlex.join(cmd))  # no secret in it: the password is in --config's file
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=limit)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{name} did not finish within {limit} s (dump_timeout_s); it was killed") from None
    except OSError as exc:
        raise BackupError(f"cannot run {cmd[0]}: {exc}") from None
    lines = proc.stderr.splitlines()[-20:]
    for line in lines:
        LOG.info("%s: %s", name, line)
    if proc.returncode != 0:
        raise ToolFailed(f"{name} failed with exit status {proc.returncode}", lines)
    return proc.stderr


def run_mongodump(settings, out_dir, databases):
    """One mongodump per database into out_dir; with oplog, one dump of the whole server (the
    oplog needs it; the archive then leaves the private databases out)."""
    base = [settings.mongodump_path, *connection_args(settings), f"--out={out_dir}"]
    base.append(f"--numParallelCollections={settings.parallel_collections}")
    where = f"{settings.mongodb_host}:{settings.mongodb_port} as {settings.mongodb_user}"
    if settings.oplog:
        LOG.info("mongodump --oplog of the whole server %s", where)
        run_tool(settings, "mongodump", [*base, "--oplog"])
        return
    for database in databases:
        LOG.info("mongodump of database %s on %s", database, where)
        run_tool(settings, "mongodump", [*base, f"--db={database}"])


def mongodump_archive_command(settings, databases):
    """mongodump --archive (to stdout) of: the whole server with --oplog (the oplog needs a
    whole-server dump); the one database with --db; else the whole server. Whatever is not in
    `databases` (admin, config, other databases) is dropped from the stream by the caller's
    ArchiveFilter (mongo/archive_stream.py): mongodump 100.x cannot leave databases out itself."""
    cmd = [settings.mongodump_path, *connection_args(settings), "--archive"]
    cmd.append(f"--numParallelCollections={settings.parallel_collections}")
    if settings.oplog:
        return [*cmd, "--oplog"]
    if len(databases) == 1:
        return [*cmd, f"--db={databases[0]}"]
    return cmd


def stream_tool(settings, name, cmd, sink, progress=None, chunk=1 << 20):
    """Runs a MongoDB tool whose stdout is a stream (mongodump --archive), handing what it
    writes to sink.write as it comes, under the dump time limit. Logs the tool's last lines;
    raises when it fails, and kills it when the sink fails (an upload that broke)."""
    limit = settings.dump_timeout_s
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise BackupError(f"cannot run {cmd[0]}: {exc}") from None
    lines = collections.deque(maxlen=20)
    reader = threading.Thread(
        target=lambda: lines.extend(line.decode(errors="replace").rstrip() for line in proc.stderr), daemon=True
    )
    reader.start()
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        proc.kill()

    timer = threading.Timer(limit, kill)
    timer.daemon = True
    timer.start()
    try:
        while True:
            data = proc.stdout.read(chunk)
            if not data:
                break
            if progress:
                progress.read(len(data))
            sink.write(data)
        proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
        reader.join(timeout=10)
        proc.stdout.close()
        for line in list(lines):
            LOG.info("%s: %s", name, line)
    if timed_out.is_set():
        raise BackupError(f"{name} did not finish within {limit} s (dump_timeout_s); it was killed")
    if proc.returncode != 0:
        raise ToolFailed(f"{name} failed with exit status {proc.returncode}", lines)


def run_mongorestore(settings, source_args, login=(None, None), drop=False, oplog_replay=False, extra=()):
    """mongorestore of what source_args name (a format's: `--dir=...`, or `--archive=FILE
    --gzip`), as login's user (default: the backup user) with the password from login's
    --config file (default: the backup user's). Fails when mongorestore reports documents it
    could not restore (it exits 0 on duplicate keys); returns the documents restored."""
    user, password_file = login
    cmd = [settings.mongorestore_path, *connection_args(settings, user, password_file), *source_args]
    if drop:
        cmd.append("--drop")
    if oplog_replay:
        cmd.append("--oplogReplay")
    stderr = run_tool(settings, "mongorestore", [*cmd, *extra])
    restored, failed = restore_counts(stderr)
    if failed:
        raise ToolFailed(
            f"mongorestore could not restore {failed} document(s) ({restored} restored); see the log",
            stderr.splitlines()[-20:],
        )
    return restored


def restore_counts(stderr):
    """(restored, failed) from mongorestore's last line: 'N document(s) restored successfully.
    M document(s) failed to restore.'"""
    found = re.findall(r"(\d+) document\(s\) restored successfully\. (\d+) document\(s\) failed to restore", stderr)
    if not found:
        return 0, 0
    restored, failed = found[-1]
    return int(restored), int(failed)


def tool_version(path, timeout_s=60):
    """The first line of `<tool> --version`, e.g. 'mongodump version: 100.11.0'."""
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, check=False, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({type(exc).__name__})"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if proc.returncode == 0 and lines else f"unknown (exit status {proc.returncode})"
