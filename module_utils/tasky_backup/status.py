"""status-check.sh: the last good backup, its age, the next run, whether S3 answers."""

import datetime

from .aws import s3_client
from .clock import TIME_FORMAT, parse_utc, utc_now
from .drill_job import drill_status
from .lock import running_since
from .state import backup_age_seconds, read_state
from .store import latest_key


def next_run(schedule, now):
    """Next time of a daily 'M H * * *' schedule; None for other shapes."""
    fields = schedule.split()
    if len(fields) != 5 or fields[2:] != ["*", "*", "*"] or not (fields[0].isdigit() and fields[1].isdigit()):
        return None
    candidate = now.replace(hour=int(fields[1]), minute=int(fields[0]), second=0, microsecond=0)
    if candidate <= now:
        candidate += datetime.timedelta(days=1)
    return candidate


def status_report(config, client=None):
    """Last success, its age, size and key, next run, S3 reachability, a run in progress; ok is
    False when the last good backup is too old or a run has held the lock for too long.

    A replica set member that is not the chosen one skips its runs: its age is that of
    latest.tar.gz in S3, which the chosen member writes."""
    state = read_state(config)
    last = state.get("last_success", {})
    age = backup_age_seconds(state)
    upcoming = next_run(config["schedule"], utc_now())
    client = client or s3_client(config)
    try:
        client.head_bucket(Bucket=config["bucket"])
        reachable = True
    except Exception:  # noqa: BLE001 - reported, not raised
        reachable = False
    last_run = state.get("last_run", {})
    if last_run.get("status") == "skipped" and reachable:
        age = latest_age_seconds(config, client)
    limit = config["max_age_hours"] * 3600
    problems = []
    if age is None:
        problems.append("no successful backup recorded")
    elif age > limit:
        problems.append(f"the last good backup is {age / 3600:.1f} h old (over {config['max_age_hours']} h)")
    running = running_since(config["lock_file"])
    if running and running != "unknown" and (utc_now() - parse_utc(running)).total_seconds() > limit:
        problems.append(f"a run has held the lock since {running}: stuck?")
    drill, drill_problems = drill_status(config, state)  # the last restore drill (drill.py)
    problems += drill_problems
    return {
        **drill,
        "ok": not problems,
        "problems": problems,
        "last_success": last.get("finished_at"),
        "age_hours": round(age / 3600, 2) if age is not None else None,
        "max_age_hours": config["max_age_hours"],
        "size": last.get("size"),
        "key": last.get("key"),
        "last_run_status": last_run.get("status"),
        "last_run_error": last_run.get("error") or last_run.get("reason"),
        "running_since": running,
        "last_locked": state.get("last_locked"),
        "next_run": upcoming.strftime(TIME_FORMAT) if upcoming else config["schedule"],
        "s3_reachable": reachable,
    }


def latest_age_seconds(config, client):
    try:
        head = client.head_object(Bucket=config["bucket"], Key=latest_key(config))
    except Exception:  # noqa: BLE001 - no latest backup: no age
        return None
    return (utc_now() - head["LastModified"]).total_seconds()
