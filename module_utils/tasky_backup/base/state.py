"""The state file: the last run, the last success, the last locked-out run and the last drills,
for status-check.sh, metrics and the module. Written whole, fsynced, renamed into place."""

import fcntl
import json
import os

from .clock import age_seconds
from .files import private_dir, read_text, write_atomic


def record_backup(settings, result):
    """Records a backup run's result (a dict), and the last success; returns the new state."""

    def change(state):
        state["last_run"] = result
        if result.get("status") == "success":
            state["last_success"] = result

    return update(settings, change)


def record_locked(settings, result):
    """A run found the lock held: says so, so a stuck run shows up in status-check.sh."""
    return update(
        settings, lambda state: state.update(last_locked={"at": result["finished_at"], "error": result["error"]})
    )


def record_drill(settings, summary):
    """The last drill, and the last good one (their summaries), beside the backups'."""

    def change(state):
        state["last_drill"] = summary
        if summary.get("status") == "ok":
            state["last_drill_success"] = summary

    return update(settings, change)


def update(settings, change):
    """Reads the state, lets change(state) alter it and writes it back, under an exclusive flock
    of the state's directory: a backup, a drill and a locked-out run record their ends outside
    the run lock, and one must not write over what another recorded in between."""
    directory = private_dir(os.path.dirname(os.path.abspath(settings.state_file)))
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held for a read and a write: milliseconds
        state = read_state(settings)
        change(state)
        write_atomic(settings.state_file, json.dumps(state, indent=2) + "\n")
        return state
    finally:
        os.close(fd)


def read_state(settings):
    """The state; {} when there is none yet or it is not JSON (a crash before fsync was)."""
    text = read_text(settings.state_file)
    try:
        state = json.loads(text) if text else {}
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def backup_age_seconds(state):
    return age_seconds(state.get("last_success", {}).get("finished_at"))


def drill_age_seconds(state):
    return age_seconds((state.get("last_drill_success") or {}).get("finished_at"))
