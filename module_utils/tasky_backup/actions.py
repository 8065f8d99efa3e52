"""The one action table: every action of the engine, what it runs, whether it changes anything,
what check mode says instead, how its runs are recorded and what success is. The command line
(__main__.py) and the Ansible module (library/tasky_backup.py) both dispatch through perform()."""

import dataclasses
import json
import logging
import os
import socket

from .base.errors import EXIT_LOCKED, BackupError, Locked
from .base.logs import setup_logging
from .base.metrics import publish_backup_metrics, publish_drill_metrics
from .base.state import record_backup, record_drill, record_locked
from .ops.backup import take_backup
from .ops.catalogue import catalogue_after_backup, write_catalogue
from .ops.drill import drill
from .ops.listing import list_backups
from .ops.restore import restore_backup
from .ops.status import status_report
from .ops.verify import verify_backup
from .recorded import Recording, recorded_run, signals_end_the_run
from .s3.keys import resolve_key

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Request:
    """What the caller asked, beside the action: which backup, and a restore's options."""

    key: str = "latest"
    drop: bool = False
    restore_user: str = None
    restore_config: str = None
    allow_other_deployment: bool = False
    allow_unsigned: bool = False  # verify, restore, drill: a backup from before signed manifests
    accept_shrink: bool = False  # backup: make latest even when it shrank or its dump is damaged
    accept_other_writer: bool = False  # backup: replace a latest another host wrote


@dataclasses.dataclass(frozen=True)
class Action:
    name: str
    run: object  # run(settings, request) -> a Result
    writes: bool  # changes the server or the bucket: check mode says `would` instead
    changed: object = lambda result: False  # what the module reports as changed
    ok: object = lambda result: True  # otherwise the module fails and the command exits 1
    would: object = None  # would(settings, request): what check mode says it would do
    changed_in_check: bool = True
    recording: Recording = None  # a recorded run (state file, metrics, SUMMARY line)
    signals: bool = False  # SIGTERM, SIGHUP and SIGINT end it cleanly (recorded runs always)
    printed: object = lambda result: json.dumps(result, indent=2, sort_keys=True)  # the command's stdout
    failure: object = lambda result: ""  # the module's message when ok(result) is false
    module: bool = True  # offered by the Ansible module too


def backup_then_catalogue(settings, request):
    result = take_backup(settings, accept_shrink=request.accept_shrink, accept_other_writer=request.accept_other_writer)
    if result.status == "success":
        catalogue_after_backup(settings, result)  # never raises: the backup is good already
    return result


def drill_failure(result):
    if result["status"] == "locked":
        return result["error"]
    why = result.get("error") or "; ".join(result.get("differences") or [])
    return f"restore drill of {result.get('key')} failed: {why}"


def where(settings, key):
    return f"s3://{settings.bucket}/{key}"


BACKUP = Recording("backup", "SUMMARY", record_backup, publish_backup_metrics, record_locked, locked_line="{error}")
DRILL = Recording(
    "restore drill",
    "DRILL SUMMARY",
    record_drill,
    publish_drill_metrics,
    fields=lambda settings, request: {
        "ok": False,
        "key": resolve_key(settings, request.key),
        "differences": [],
        "host": socket.gethostname(),
    },
    locked_fields=("ok",),
)

ACTIONS = {
    action.name: action
    for action in (
        Action(
            "backup",
            backup_then_catalogue,
            writes=True,
            changed=lambda r: r["status"] == "success",
            ok=lambda r: r["status"] in ("success", "skipped"),
            would=lambda s, q: f"would backup {where(s, s.prefix + 'mongodb-backup-*')}",
            recording=BACKUP,
            printed=lambda r: f"SUMMARY {json.dumps(r, sort_keys=True)}",
            failure=lambda r: f"backup {r['status']}: {r.get('error')}",
        ),
        Action(
            "drill",  # not changed: the scratch databases are dropped again, the bucket is only read
            drill,
            writes=True,
            ok=lambda r: r["status"] in ("ok", "skipped"),
            would=lambda s, q: f"would drill {where(s, resolve_key(s, q.key))} into scratch databases",
            changed_in_check=False,
            recording=DRILL,
            failure=drill_failure,
        ),
        Action(
            "restore",
            restore_backup,
            writes=True,
            changed=lambda r: True,
            would=lambda s, q: f"would restore {where(s, resolve_key(s, q.key))}",
            signals=True,  # SIGTERM, a lost terminal or Ctrl-C: scratch files removed
        ),
        Action(
            "catalogue",
            write_catalogue,
            writes=True,
            changed=lambda r: True,
            would=lambda s, q: f"would catalogue {where(s, s.prefix + 'index.html')}",
        ),
        Action(
            "verify",
            verify_backup,
            writes=False,
            ok=lambda r: r["valid"],
            failure=lambda r: f"backup {r['key']} is not valid: {'; '.join(r['problems'])}",
        ),
        Action(
            "list", list_backups, writes=False, printed=lambda r: json.dumps(r["backups"], indent=2, sort_keys=True)
        ),
        Action(
            "status",
            status_report,
            writes=False,
            ok=lambda r: r["ok"],
            failure=lambda r: f"backups need attention: {'; '.join(r['problems'])}",
        ),
    )
}


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What an action came to, for the command line and the module alike."""

    result: dict  # None when the action raised (message says why)
    ok: bool
    changed: bool = False
    message: str = ""  # why it failed (or, in check mode, what it would do)
    locked: bool = False

    @property
    def exit_status(self):
        return EXIT_LOCKED if self.locked else 0 if self.ok else 1


def perform(name, settings, request=None, check=False, verbose=False):
    """Runs one action of the table: logging set up, check mode decided, the run recorded or
    not, its errors turned into an Outcome."""
    action, request = ACTIONS[name], request or Request()
    if check and action.writes:
        return Outcome({}, True, action.changed_in_check, action.would(settings, request))  # nothing run
    os.umask(0o077)
    try:
        setup_logging(settings.log_file, verbose)
        refused = None
    except BackupError as exc:  # e.g. a symlink planted at the log file
        setup_logging("", verbose=True)
        refused = str(exc)
    try:
        if action.recording:  # a refused log file is recorded as the run's failure
            result = recorded_run(action.recording, settings, request, lambda: action.run(settings, request), refused)
        elif refused:
            raise BackupError(refused)
        elif action.signals:
            with signals_end_the_run():
                result = action.run(settings, request)
        else:
            result = action.run(settings, request)
    except Locked as exc:
        return Outcome(None, False, message=str(exc), locked=True)
    except BackupError as exc:
        LOG.error("%s failed: %s", name, exc)
        return Outcome(None, False, message=str(exc))
    out = result.as_dict()
    ok = action.ok(out)
    locked = out.get("status") == "locked"
    return Outcome(out, ok, action.changed(out), "" if ok else action.failure(out), locked)
