"""recorded.signals_end_the_run: an ending signal ends the run as Terminated even when it lands
inside code that catches every Exception (botocore retries a request after any Exception raised
while it waits for an answer, and the engine's best-effort steps catch them all), and every
`except BaseException` on the way still cleans up."""

import os
import signal
import time

import pytest
from tasky_backup.base.errors import BackupError, Terminated
from tasky_backup.recorded import signals_end_the_run


@pytest.mark.parametrize("ending", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_inside_a_catch_all_still_ends_the_run(ending):
    cleaned, swallowed = [], []
    with pytest.raises(Terminated, match=f"terminated by {ending.name}"):
        with signals_end_the_run():
            try:
                try:
                    os.kill(os.getpid(), ending)
                    time.sleep(5)  # the handler runs here, as it would inside a socket read
                except Exception as exc:  # noqa: BLE001 - what botocore and best-effort steps do
                    swallowed.append(exc)
            except BaseException:
                cleaned.append(True)  # a rollback
                raise
    assert cleaned == [True] and swallowed == []
    assert isinstance(Terminated("x"), BackupError)  # recorded like any failure
    assert signal.getsignal(ending) in (signal.SIG_DFL, signal.default_int_handler)  # handlers put back


class FlakyS3:
    """A recording stand-in for S3's DeleteObject: the first call is where SIGTERM lands."""

    def __init__(self):
        self.deleted, self.calls = [], 0

    def delete_object(self, Bucket, Key, VersionId):  # boto3's names
        self.calls += 1
        if self.calls == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here
        self.deleted.append((Key, VersionId))


def test_a_signal_during_the_rollback_still_takes_back_every_version():
    from tasky_backup.s3.rollback import Rollback

    s3 = FlakyS3()
    rollback = Rollback(s3, "bucket", 1)
    for key in ("backup", "backup.json", "daily", "latest"):
        rollback.add(key, f"v-{key}")
    with pytest.raises(Terminated):
        with signals_end_the_run():
            try:
                raise BackupError("the copy to latest failed")
            except BackupError:
                rollback.undo()
    assert sorted(s3.deleted) == sorted((key, f"v-{key}") for key in ("backup", "backup.json", "daily", "latest"))
