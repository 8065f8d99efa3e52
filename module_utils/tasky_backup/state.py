"""The state file: the last run and the last success, for status-check.sh, metrics and the module."""

import json
import os

from .clock import parse_utc, utc_now


def write_state(config, result):
    """Records the last run's result, and the last success, for status-check.sh and the module;
    returns the new state."""
    state = read_state(config)
    state["last_run"] = result
    if result.get("status") == "success":
        state["last_success"] = result
    os.makedirs(os.path.dirname(config["state_file"]), exist_ok=True)
    tmp = f"{config['state_file']}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
    os.replace(tmp, config["state_file"])
    return state


def read_state(config):
    try:
        with open(config["state_file"], encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def backup_age_seconds(state):
    finished = state.get("last_success", {}).get("finished_at")
    if not finished:
        return None
    return (utc_now() - parse_utc(finished)).total_seconds()
