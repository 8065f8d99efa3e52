"""The state file: the last run, the last success and the last locked-out run, for
status-check.sh, metrics and the module. Written whole, fsynced, renamed into place."""

import json

from .clock import parse_utc, utc_now
from .files import read_text, write_atomic


def write_state(config, result):
    """Records the last run's result, and the last success; returns the new state."""
    state = read_state(config)
    state["last_run"] = result
    if result.get("status") == "success":
        state["last_success"] = result
    return save(config, state)


def record_locked(config, message, at):
    """A run found the lock held: says so, so a stuck run shows up in status-check.sh."""
    state = read_state(config)
    state["last_locked"] = {"at": at, "error": message}
    return save(config, state)


def save(config, state):
    write_atomic(config["state_file"], json.dumps(state, indent=2) + "\n")
    return state


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
