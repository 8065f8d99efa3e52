"""The job around a restore drill (drill.py), for cron, the CLI and the module: SIGTERM ends it
cleanly, and every outcome is written to the log, the state file and CloudWatch, and ends with
one DRILL SUMMARY line; status-check.sh's view of the drills."""

import json
import socket
import time

from .clock import parse_utc, utc_now, utc_now_text
from .drill import drill
from .errors import EXIT_LOCKED, BackupError, Locked, described
from .job import remember, signals_end_the_run
from .logs import LOG
from .metrics import publish_drill_metrics
from .state import update
from .store import resolve_key

# Differences kept in the state file (the result returned has them all).
STATE_DIFFERENCES = 20


def drill_job(config, key=None, refused=None):
    """A drill with state file, metrics and summary line; returns its result whatever happened:
    status ok, failed, skipped (not the primary) or locked (a backup or drill holds the lock)."""
    started = time.monotonic()
    try:
        if refused:
            raise BackupError(refused)
        with signals_end_the_run():
            result = drill(config, key)
    except Locked as exc:
        LOG.warning("restore drill not started: %s", exc)
        result = {"status": "locked", "ok": False, "error": str(exc), "finished_at": utc_now_text()}
        LOG.info("DRILL SUMMARY %s", json.dumps(result, sort_keys=True))
        return result
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, none is a bare traceback
        message = described(exc)
        LOG.error("restore drill failed: %s", message)
        result = {
            "status": "failed",
            "ok": False,
            "key": resolve_key(config, key),
            "error": message,
            "differences": [],
            "host": socket.gethostname(),
            "duration_s": round(time.monotonic() - started, 3),
            "finished_at": utc_now_text(),
        }
    remember(config, lambda: record_drill(config, result))
    if result["status"] != "skipped":  # the primary's drill is the bucket's; a member's skip is not news
        publish_drill_metrics(config, result)
    LOG.info("DRILL SUMMARY %s", json.dumps(summary(result), sort_keys=True))
    return result


def run_drill_job(config, key=None, refused=None):
    """What backup.sh --drill runs: prints the result; exit status 0 ok or skipped, 1 failed,
    75 locked."""
    result = drill_job(config, key, refused)
    print(json.dumps(result, indent=2, sort_keys=True))
    if result["status"] == "locked":
        return EXIT_LOCKED
    return 0 if result["status"] in ("ok", "skipped") else 1


def summary(result):
    """The result without the per-collection detail, and at most a few differences: what the
    state file and the summary line keep."""
    short = {k: v for k, v in result.items() if k != "compared"}
    differences = result.get("differences") or []
    if len(differences) > STATE_DIFFERENCES:
        more = len(differences) - STATE_DIFFERENCES
        short["differences"] = [*differences[:STATE_DIFFERENCES], f"... and {more} more"]
    return short


def record_drill(config, result):
    """The last drill, and the last good one, in the state file beside the backups'."""

    def change(state):
        state["last_drill"] = summary(result)
        if result.get("status") == "ok":
            state["last_drill_success"] = summary(result)

    return update(config, change)


def drill_age_seconds(state):
    finished = (state.get("last_drill_success") or {}).get("finished_at")
    if not finished:
        return None
    return (utc_now() - parse_utc(finished)).total_seconds()


def drill_status(config, state):
    """status-check.sh's view of the drills: (fields, problems). With the drill on (a drill user
    configured), a failed last drill or a last good one older than drill_max_age_days is a
    problem, unless the last drill was skipped (this member is not the primary); none recorded
    yet is said, not counted (the alarm covers a drill that never runs)."""
    last = state.get("last_drill") or {}
    age = drill_age_seconds(state)
    enabled = bool(config["drill_user"])
    fields = {
        "drill_enabled": enabled,
        "drill_schedule": config["drill_schedule"] or None,
        "drill_max_age_days": config["drill_max_age_days"],
        "last_drill": {
            k: last.get(k)
            for k in (
                "status",
                "finished_at",
                "key",
                "backup_key",
                "recovery_s",
                "documents",
                "differences",
                "error",
                "reason",
            )
            if k in last
        }
        or None,
        "last_drill_success": (state.get("last_drill_success") or {}).get("finished_at"),
        "drill_age_days": round(age / 86400, 2) if age is not None else None,
    }
    problems = []
    if enabled and last.get("status") == "failed":
        why = last.get("error") or "; ".join((last.get("differences") or [])[:3])
        problems.append(f"the last restore drill ({last.get('finished_at')}) failed: {why}")
    # A member that skips (not the primary, maybe a former one) is not late: the primary drills.
    late = age is not None and age > config["drill_max_age_days"] * 86400 and last.get("status") != "skipped"
    if enabled and late:
        problems.append(
            f"the last successful restore drill is {age / 86400:.1f} days old (over {config['drill_max_age_days']})"
        )
    return fields, problems
