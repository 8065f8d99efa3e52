"""Taking back a failed run's writes: the object versions it wrote, deleted again, so the bucket
is as the run found it (the bucket is versioned: deleting a version makes the one before it
current again, so a failed run leaves daily-* and latest.tar.gz as they were)."""

import logging

from ..base.errors import Ending
from .retry import patiently

LOG = logging.getLogger(__name__)


class Rollback:
    """The versions a run wrote, in order; undo() deletes them, newest first."""

    def __init__(self, client, bucket, patience_s):
        self.client, self.bucket, self.patience_s = client, bucket, patience_s
        self.versions = []

    def add(self, key, version_id):
        self.versions.append((key, version_id))

    def drop(self, key, version_id):
        """Deletes a version written by this run that is no longer wanted."""
        if version_id:
            self._delete(key, version_id)
        self.versions.remove((key, version_id))

    def _delete(self, key, version_id):
        patiently(
            f"the removal of {key} version {version_id}",
            lambda: self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version_id),
            max(self.patience_s, 60),
        )

    def undo(self):
        """Takes back every version, even when an ending signal comes meanwhile: that one is
        raised once all are (the handler ignores any further signal)."""
        ending = None
        for key, version_id in reversed(self.versions):
            if not version_id:
                LOG.error("cannot take back s3://%s/%s: the bucket keeps no versions", self.bucket, key)
                continue
            try:
                self._take_back(key, version_id)
            except Ending as exc:
                ending = ending or exc
                self._take_back(key, version_id)  # again, now that signals are ignored
        self.versions.clear()
        if ending is not None:
            raise ending

    def _take_back(self, key, version_id):
        try:
            self._delete(key, version_id)
            LOG.info("took back s3://%s/%s (version %s) written by this failed run", self.bucket, key, version_id)
        except Exception as exc:  # noqa: BLE001 - reported; the next run or an operator cleans up
            LOG.error("could not take back s3://%s/%s version %s: %s", self.bucket, key, version_id, exc)
