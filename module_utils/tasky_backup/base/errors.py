"""The engine's errors: each carries a message fit for the log and the operator."""

import functools

EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; nothing was touched
EXIT_BAD_SETTINGS = 2  # the configuration was refused before any work


class BackupError(Exception):
    """A failure with a message fit for the log and the operator."""


class Locked(BackupError):
    """Another run holds the engine's lock."""


class Terminated(BackupError):
    """SIGTERM (systemd stopping, a reboot, kill), SIGHUP (the terminal or SSH/SSM session of a
    run by hand went away) or SIGINT (Ctrl-C): the run stops and cleans up."""


class Ending(BaseException):
    """An ending signal on its way up to signals_end_the_run, which makes it Terminated. Not an
    Exception, so that no `except Exception` swallows it: botocore retries a request after any
    Exception raised while it waits for the answer, and best-effort steps catch them all."""


def described(exc):
    """What a failure says in the log and the state file: a BackupError's own words, anything
    else with its type, so an unexpected error is still recognisable."""
    return str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}: {exc}"


def reported_as(action):
    """Turns any failure of the decorated call (S3 errors included) into a BackupError."""

    def decorate(func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except BackupError:
                raise
            except Exception as exc:
                raise BackupError(f"{action} failed: {type(exc).__name__}: {exc}") from exc

        return run

    return decorate
