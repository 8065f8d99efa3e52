"""The job around a backup run, for cron and the module alike: SIGTERM ends it cleanly, and
every outcome (success, failure of any kind, skipped, locked out) is written to the log, the
state file and CloudWatch, and ends with one SUMMARY line."""

import contextlib
import json
import signal
import threading
import time

from .backup import take_backup
from .catalogue import catalogue_after_backup
from .clock import utc_now_text
from .errors import EXIT_LOCKED, BackupError, Locked, described
from .logs import LOG
from .metrics import publish_metrics
from .state import record_locked, write_state


class Terminated(BackupError):
    """SIGTERM (systemd stopping, a reboot, kill), SIGHUP (the terminal or SSH/SSM session of a
    run by hand went away) or SIGINT (Ctrl-C): the run stops and cleans up."""


ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@contextlib.contextmanager
def signals_end_the_run():
    """Turns the first ending signal into Terminated in the main thread, so the run aborts its
    upload, takes back what it wrote, removes its scratch files and records the failure; more
    signals are ignored while it does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, _frame):
        for ending in ENDING_SIGNALS:
            signal.signal(ending, signal.SIG_IGN)
        raise Terminated(f"terminated by {signal.Signals(signum).name}")

    previous = {ending: signal.signal(ending, terminate) for ending in ENDING_SIGNALS}
    try:
        yield
    finally:
        for ending, handler in previous.items():
            signal.signal(ending, handler)


def backup_job(config, refused=None):
    """A backup with state file, metrics and summary line; returns the result, whatever happened
    (status success, failed, skipped or locked). refused: why the run must not start (a log
    file it will not write to), recorded like any failure."""
    started = time.monotonic()
    try:
        if refused:
            raise BackupError(refused)
        with signals_end_the_run():
            result = take_backup(config)
            if result["status"] == "success":
                catalogue_after_backup(config, result)  # never raises: the backup is good already
    except Locked as exc:
        LOG.warning("%s", exc)
        result = {"status": "locked", "error": str(exc), "finished_at": utc_now_text()}
        remember(config, lambda: record_locked(config, result["error"], result["finished_at"]))
        LOG.info("SUMMARY %s", json.dumps(result, sort_keys=True))
        return result
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, none is a bare traceback
        message = described(exc)
        LOG.error("backup failed: %s", message)
        result = {
            "status": "failed",
            "error": message,
            "duration_s": round(time.monotonic() - started, 3),
            "finished_at": utc_now_text(),
        }
    state = remember(config, lambda: write_state(config, result))
    if result["status"] != "skipped":  # a member that is not the chosen one reports nothing
        publish_metrics(config, result, state or {})
    LOG.info("SUMMARY %s", json.dumps(result, sort_keys=True))
    return result


def remember(config, write):
    """Writes the state file; a failure to (a full disk) is logged and does not hide the result."""
    try:
        return write()
    except Exception as exc:  # noqa: BLE001 - the run's own outcome matters more
        LOG.error("could not write the state file %s: %s", config["state_file"], exc)
        return None


def run_backup_job(config, refused=None):
    """What cron runs (through backup.sh): exit status 0 success or skipped, 1 failure, 75 locked."""
    result = backup_job(config, refused)
    print(f"SUMMARY {json.dumps(result, sort_keys=True)}")
    if result["status"] == "locked":
        return EXIT_LOCKED
    return 0 if result["status"] in ("success", "skipped") else 1
