"""The state file: the last run, the last success and the last locked-out run, for
status-check.sh, metrics and the module. Written whole, fsynced, renamed into place."""

import fcntl
import json
import os

from .clock import parse_utc, utc_now
from .files import private_dir, read_text, write_atomic


def write_state(config, result):
    """Records the last run's result, and the last success; returns the new state."""

    def change(state):
        state["last_run"] = result
        if result.get("status") == "success":
            state["last_success"] = result

    return update(config, change)


def record_locked(config, message, at):
    """A run found the lock held: says so, so a stuck run shows up in status-check.sh."""
    return update(config, lambda state: state.update(last_locked={"at": at, "error": message}))


def update(config, change):
    """Reads the state, lets change(state) alter it and writes it back, under an exclusive flock
    of the state's directory: a backup, a drill and a locked-out run record their ends outside
    the run lock, and one must not write over what another recorded in between."""
    directory = private_dir(os.path.dirname(os.path.abspath(config["state_file"])))
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for a read and a write: milliseconds
        state = read_state(config)
        change(state)
        write_atomic(config["state_file"], json.dumps(state, indent=2) + "\n")
        return state
    finally:
        os.close(fd)


def read_state(config):
    """The state; {} when there is none yet or it is not JSON (a crash before fsync was)."""
    text = read_text(config["state_file"])
    try:
        state = json.loads(text) if text else {}
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def backup_age_seconds(state):
    finished = state.get("last_success", {}).get("finished_at")
    if not finished:
        return None
    return (utc_now() - parse_utc(finished)).total_seconds()
