"""MongoDB's own tools: mongodump into the scratch directory or as an archive stream,
mongorestore from a folder or an archive, each under a time limit, and the free-space check
before a dump."""

import collections
import os
import re
import shlex
import subprocess
import threading

from .errors import BackupError
from .logs import LOG


def connection_args(config, user=None, password_file=None):
    # The password is in a root-only file (--config), never in argv.
    return [
        f"--host={config['mongodb_host']}",
        f"--port={config['mongodb_port']}",
        f"--username={user or config['mongodb_user']}",
        f"--authenticationDatabase={config['mongodb_auth_db']}",
        f"--config={password_file or config['mongodump_config']}",
    ]


def run_tool(config, name, cmd):
    """Runs a MongoDB tool under the dump time limit; logs its last lines; returns its stderr."""
    limit = config["dump_timeout_s"]
    LOG.info("running %s", shlex.join(cmd))  # no secret in it: the password is in --config's file
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=limit)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{name} did not finish within {limit} s (dump_timeout_s); it was killed") from None
    except OSError as exc:
        raise BackupError(f"cannot run {cmd[0]}: {exc}") from None
    for line in proc.stderr.splitlines()[-20:]:
        LOG.info("%s: %s", name, line)
    if proc.returncode != 0:
        raise BackupError(f"{name} failed with exit status {proc.returncode}")
    return proc.stderr


def run_mongodump(config, out_dir, databases):
    """One mongodump per database into out_dir; with oplog, one dump of the whole server (the
    oplog needs it; the archive then leaves the private databases out)."""
    base = [config["mongodump_path"], *connection_args(config), f"--out={out_dir}"]
    base.append(f"--numParallelCollections={config['parallel_collections']}")
    where = f"{config['mongodb_host']}:{config['mongodb_port']} as {config['mongodb_user']}"
    if config["oplog"]:
        LOG.info("mongodump --oplog of the whole server %s", where)
        run_tool(config, "mongodump", [*base, "--oplog"])
        return
    for database in databases:
        LOG.info("mongodump of database %s on %s", database, where)
        run_tool(config, "mongodump", [*base, f"--db={database}"])


def mongodump_archive_command(config, databases):
    """mongodump --archive (to stdout) of: the whole server with --oplog (the oplog needs a
    whole-server dump); the one database with --db; else the whole server. Whatever is not in
    `databases` (admin, config, other databases) is dropped from the stream by the caller's
    ArchiveFilter (mongoarchive.py): mongodump 100.x cannot leave databases out itself."""
    cmd = [config["mongodump_path"], *connection_args(config), "--archive"]
    cmd.append(f"--numParallelCollections={config['parallel_collections']}")
    if config["oplog"]:
        return [*cmd, "--oplog"]
    if len(databases) == 1:
        return [*cmd, f"--db={databases[0]}"]
    return cmd


def stream_tool(config, name, cmd, sink, progress=None, chunk=1 << 20):
    """Runs a MongoDB tool whose stdout is a stream (mongodump --archive), handing what it
    writes to sink.write as it comes, under the dump time limit. Logs the tool's last lines;
    raises when it fails, and kills it when the sink fails (an upload that broke)."""
    limit = config["dump_timeout_s"]
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
        raise BackupError(f"{name} failed with exit status {proc.returncode}")


def run_mongorestore(
    config, dump_dir, drop=False, restore_user=None, restore_config=None, extra=(), archive=None, oplog=False
):
    """mongorestore of an unpacked dump (dump_dir), or of a gzipped mongodump archive file
    (archive: `--archive=FILE --gzip`), as restore_user (default: the backup user) with the
    password from restore_config (default: the backup user's file). Fails when mongorestore
    reports documents it could not restore (it exits 0 on duplicate keys)."""
    cmd = [config["mongorestore_path"], *connection_args(config, restore_user, restore_config)]
    if archive:
        cmd += [f"--archive={archive}", "--gzip"]
    else:
        cmd.append(f"--dir={dump_dir}")
        oplog = os.path.exists(os.path.join(dump_dir, "oplog.bson"))
    if drop:
        cmd.append("--drop")
    if oplog:
        cmd.append("--oplogReplay")
    stderr = run_tool(config, "mongorestore", [*cmd, *extra])
    restored, failed = restore_counts(stderr)
    if failed:
        raise BackupError(f"mongorestore could not restore {failed} document(s) ({restored} restored); see the log")
    return restored


def restore_counts(stderr):
    """(restored, failed) from mongorestore's last line: 'N document(s) restored successfully.
    M document(s) failed to restore.'"""
    found = re.findall(r"(\d+) document\(s\) restored successfully\. (\d+) document\(s\) failed to restore", stderr)
    if not found:
        return 0, 0
    restored, failed = found[-1]
    return int(restored), int(failed)


def dump_summary(dump_dir, leave_out=()):
    """(files, bytes) of a dump folder, without its top-level folders named in leave_out."""
    files, size = 0, 0
    for root, dirs, names in os.walk(dump_dir):
        if root == dump_dir:
            dirs[:] = [d for d in dirs if d not in leave_out]
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(root, name))
    return files, size


def check_free_space(config, needed, what="the dump"):
    """Refuses to start a dump of about `needed` bytes that would leave the work directory's
    file system with less than min_free_percent free: MongoDB's own data must never run out of
    disk because of a backup."""
    fs = os.statvfs(config["work_dir"])
    total, free = fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize
    keep = total * config["min_free_percent"] / 100
    if free - needed < keep:
        raise BackupError(
            f"not enough free space in {config['work_dir']}: {what} needs about {mib(needed)}, "
            f"{mib(free)} are free and {config['min_free_percent']}% ({mib(keep)}) must stay free"
        )
    LOG.info("free space: %s in %s, %s needs about %s", mib(free), config["work_dir"], what, mib(needed))


def mib(size):
    return f"{size / (1 << 20):.1f} MiB"
