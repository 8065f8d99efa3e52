"""The recorded run: what every backup and drill goes through, for cron and the module alike.
Signals end it cleanly; every outcome (its own result, a failure of any kind, a locked-out run)
is written to the log, the state file and CloudWatch, and ends with one SUMMARY line."""

import contextlib
import dataclasses
import json
import logging
import signal
import threading
import time

from .base.clock import utc_now_text
from .base.errors import BackupError, Ending, Locked, Terminated, described
from .base.results import Ended

LOG = logging.getLogger(__name__)

ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@dataclasses.dataclass(frozen=True)
class Recording:
    """How an action's runs are recorded."""

    what: str  # its name in the log: "backup", "restore drill"
    tag: str  # of its summary line: "SUMMARY", "DRILL SUMMARY"
    record: object  # record(settings, summary dict) -> the new state: its end in the state file
    metrics: object  # metrics(settings, result dict, state): best-effort
    record_locked: object = None  # record_locked(settings, result dict): a locked-out run, if recorded
    fields: object = lambda settings, request: {}  # the action's own fields of a failed or locked run
    locked_fields: tuple = ()  # which of them a locked-out run keeps
    locked_line: str = "{what} not started: {error}"  # the log's warning of a locked-out run


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
        raise Ending(f"terminated by {signal.Signals(signum).name}")

    previous = {ending: signal.signal(ending, terminate) for ending in ENDING_SIGNALS}
    try:
        yield
    except Ending as exc:  # every `except BaseException` on the way has cleaned up
        raise Terminated(str(exc)) from None
    finally:
        for ending, handler in previous.items():
            signal.signal(ending, handler)


def recorded_run(recording, settings, request, run, refused=None):
    """run() with its outcome recorded; returns a Result whatever happened. refused: why the run
    must not start (a log file it will not write to), recorded like any failure."""
    started = time.monotonic()
    try:
        if refused:
            raise BackupError(refused)
        with signals_end_the_run():
            result = run()
    except Locked as exc:
        LOG.warning(recording.locked_line.format(what=recording.what, error=exc))
        fields = recording.fields(settings, request)
        result = Ended("locked", str(exc), utc_now_text(), {k: fields[k] for k in recording.locked_fields})
        if recording.record_locked:
            remember(settings, lambda: recording.record_locked(settings, result.as_dict()))
        LOG.info("%s %s", recording.tag, json.dumps(result.summary(), sort_keys=True))
        return result
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, none is a bare traceback
        message = described(exc)
        LOG.error("%s failed: %s", recording.what, message)
        fields = {**recording.fields(settings, request), "duration_s": round(time.monotonic() - started, 3)}
        result = Ended("failed", message, utc_now_text(), fields)
    state = remember(settings, lambda: recording.record(settings, result.summary()))
    if result.status != "skipped":  # a member that is not the chosen one reports nothing
        recording.metrics(settings, result.as_dict(), state)
    LOG.info("%s %s", recording.tag, json.dumps(result.summary(), sort_keys=True))
    return result


def remember(settings, write):
    """Writes the state file; a failure to (a full disk) is logged and does not hide the result."""
    try:
        return write()
    except Exception as exc:  # noqa: BLE001 - the run's own outcome matters more
        LOG.error("could not write the state file %s: %s", settings.state_file, exc)
        return None
