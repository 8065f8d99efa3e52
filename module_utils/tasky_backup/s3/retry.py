"""Riding out an S3 outage longer than botocore's own retries.

Each S3 call already retries a few times through botocore's standard retry mode (seconds). A
backup that has its parts in memory can also wait out a longer outage (a restarted gateway, a
network blip of a minute): `patiently` repeats a call that failed on the connection or with a
server error, with backoff, until s3_patience_s has passed, and logs when S3 went away and when
it came back.
"""

import logging
import time

from ..base.errors import BackupError

LOG = logging.getLogger(__name__)

RETRIABLE_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "503", "500"}


def is_missing(exc):
    """A ClientError that says the object (or bucket) is not there."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def is_outage(exc):
    """Connection failures and server-side errors; never a refusal such as AccessDenied."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in RETRIABLE_CODES or status >= 500
    return False


def patiently(what, call, patience_s, stopped=lambda: False):
    """call(), repeated through an outage for up to patience_s seconds."""
    deadline = time.monotonic() + patience_s
    down_since, delay = None, 1.0
    while True:
        try:
            result = call()
        except Exception as exc:
            if not is_outage(exc) or stopped():
                raise
            now = time.monotonic()
            if down_since is None:
                down_since = now
                LOG.warning("S3 went away during %s: %s; retrying for up to %d s", what, exc, patience_s)
            if now + delay > deadline:
                raise BackupError(
                    f"S3 did not come back within {patience_s} s (s3_patience_s) during {what}: {exc}"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        if down_since is not None:
            LOG.info("S3 came back after %.0f s during %s", time.monotonic() - down_since, what)
        return result
