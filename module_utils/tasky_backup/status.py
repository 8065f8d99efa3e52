"""status-check.sh: the last good backup, its age, the next run, whether S3 answers."""

import datetime

from .aws import s3_client
from .clock import TIME_FORMAT, utc_now
from .state import backup_age_seconds, read_state


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
    """Last success, its age, size and key, next run, S3 reachability; ok is False when too old."""
    state = read_state(config)
    last = state.get("last_success", {})
    age = backup_age_seconds(state)
    upcoming = next_run(config["schedule"], utc_now())
    try:
        (client or s3_client(config)).head_bucket(Bucket=config["bucket"])
        reachable = True
    except Exception:  # noqa: BLE001 - reported, not raised
        reachable = False
    fresh = age is not None and age <= config["max_age_hours"] * 3600
    return {
        "ok": fresh,
        "last_success": last.get("finished_at"),
        "age_hours": round(age / 3600, 2) if age is not None else None,
        "max_age_hours": config["max_age_hours"],
        "size": last.get("size"),
        "key": last.get("key"),
        "last_run_status": state.get("last_run", {}).get("status"),
        "next_run": upcoming.strftime(TIME_FORMAT) if upcoming else config["schedule"],
        "s3_reachable": reachable,
    }
