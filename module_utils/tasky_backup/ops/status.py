"""status-check.sh: the last good backup, its age, the next run, whether S3 answers."""

import datetime

from ..base.clock import TIME_FORMAT, parse_utc, utc_now
from ..base.lock import running_since
from ..base.results import Result
from ..base.state import backup_age_seconds, drill_age_seconds, read_state
from ..s3.client import s3_client
from ..s3.keys import latest_key


class StatusResult(Result):
    """status-check.sh's report: a dict of fields (the backups', the drill's), `ok` among them."""

    def __init__(self, fields):
        self.fields = fields

    @property
    def ok(self):
        return self.fields["ok"]

    def as_dict(self):
        return dict(self.fields)


def next_run(schedule, now):
    """Next time of a daily 'M H * * *' schedule; None for other shapes."""
    fields = schedule.split()
    if len(fields) != 5 or fields[2:] != ["*", "*", "*"] or not (fields[0].isdigit() and fields[1].isdigit()):
        return None
    candidate = now.replace(hour=int(fields[1]), minute=int(fields[0]), second=0, microsecond=0)
    if candidate <= now:
        candidate += datetime.timedelta(days=1)
    return candidate


def status_report(settings, _request=None, client=None):
    """Last success, its age, size and key, next run, S3 reachability, a run in progress; ok is
    False when the last good backup is too old or a run has held the lock for too long.

    A replica set member that is not the chosen one skips its runs: its age is that of
    latest.tar.gz in S3, which the chosen member writes."""
    state = read_state(settings)
    last = state.get("last_success", {})
    age = backup_age_seconds(state)
    upcoming = next_run(settings.schedule, utc_now())
    client = client or s3_client(settings)
    try:
        client.head_bucket(Bucket=settings.bucket)
        reachable = True
    except Exception:  # noqa: BLE001 - reported, not raised
        reachable = False
    last_run = state.get("last_run", {})
    if last_run.get("status") == "skipped" and reachable:
        age = latest_age_seconds(settings, client)
    limit = settings.max_age_hours * 3600
    problems = []
    if age is None:
        problems.append("no successful backup recorded")
    elif age > limit:
        problems.append(f"the last good backup is {age / 3600:.1f} h old (over {settings.max_age_hours} h)")
    running = running_since(settings.lock_file)
    if running and running != "unknown" and (utc_now() - parse_utc(running)).total_seconds() > limit:
        problems.append(f"a run has held the lock since {running}: stuck?")
    drill, drill_problems = drill_status(settings, state)  # the last restore drill (ops/drill.py)
    problems += drill_problems
    return StatusResult(
        {
            **drill,
            "ok": not problems,
            "problems": problems,
            "last_success": last.get("finished_at"),
            "age_hours": round(age / 3600, 2) if age is not None else None,
            "max_age_hours": settings.max_age_hours,
            "size": last.get("size"),
            "key": last.get("key"),
            "last_run_status": last_run.get("status"),
            "last_run_error": last_run.get("error") or last_run.get("reason"),
            "running_since": running,
            "last_locked": state.get("last_locked"),
            "next_run": upcoming.strftime(TIME_FORMAT) if upcoming else settings.schedule,
            "s3_reachable": reachable,
        }
    )


def drill_status(settings, state):
    """status-check.sh's view of the drills: (fields, problems). With the drill on (a drill user
    configured), a failed last drill or a last good one older than drill_max_age_days is a
    problem, unless the last drill was skipped (this member is not the primary); none recorded
    yet is said, not counted (the alarm covers a drill that never runs)."""
    last = state.get("last_drill") or {}
    age = drill_age_seconds(state)
    enabled = bool(settings.drill_user)
    fields = {
        "drill_enabled": enabled,
        "drill_schedule": settings.drill_schedule or None,
        "drill_max_age_days": settings.drill_max_age_days,
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
    late = age is not None and age > settings.drill_max_age_days * 86400 and last.get("status") != "skipped"
    if enabled and late:
        problems.append(
            f"the last successful restore drill is {age / 86400:.1f} days old (over {settings.drill_max_age_days})"
        )
    return fields, problems


def latest_age_seconds(settings, client):
    try:
        head = client.head_object(Bucket=settings.bucket, Key=latest_key(settings))
    except Exception:  # noqa: BLE001 - no latest backup: no age
        return None
    return (utc_now() - head["LastModified"]).total_seconds()
