"""One backup object in the bucket: its server-side copies, its retention tag, the copy that
records its checksum, its HEAD, and its download checked against what was recorded."""

import functools
import logging

from ..base.errors import BackupError
from .meta import ObjectMeta
from .retry import is_missing, patiently

LOG = logging.getLogger(__name__)

# CopyObject copies at most 5 GiB; boto3's managed copy switches to a multipart copy
# (UploadPartCopy, still server-side) from this size on.
COPY_MULTIPART_THRESHOLD = 5 << 30
COPY_PART_SIZE = 512 << 20

# Objects with this tag expire by the bucket's lifecycle (30 days); latest.tar.gz never has it,
# so it keeps its current version whatever happens, even when backups stop for a month.
EXPIRE_TAG = {"Key": "tasky-retention", "Value": "expire"}


def retention_tagging(expires):
    """The Tagging header of an object that may expire, or of one that never does."""
    return f"{EXPIRE_TAG['Key']}={EXPIRE_TAG['Value']}" if expires else ""


def source_of(bucket, key, version_id):
    """A copy source: that exact version, when the bucket keeps versions."""
    source = {"Bucket": bucket, "Key": key}
    if version_id:
        source["VersionId"] = version_id
    return source


def server_side_copy(client, bucket, source, key, meta, patience_s, expires, size=None):
    """Copies inside S3 (no bytes through this host), setting the backup's metadata (ObjectMeta)
    and its retention tag (never the source's: a copy of a backup that may expire to
    latest.tar.gz must not carry that tag, not even for a moment); returns the new version id:
    the one CopyObject answered (below 5 GiB, on servers that answer it), not whatever is current
    a moment later, which someone else may have written meanwhile."""
    from boto3.s3.transfer import TransferConfig

    extra = {
        "Metadata": meta.to_s3(),
        "MetadataDirective": "REPLACE",
        "ContentType": "application/gzip",
        "TaggingDirective": "REPLACE",  # with no Tagging: no tag at all
    }
    if expires:
        extra["Tagging"] = retention_tagging(True)
    if size is not None and size < COPY_MULTIPART_THRESHOLD:
        answer = patiently(
            f"the copy to {key}",
            lambda: client.copy_object(CopySource=source, Bucket=bucket, Key=key, **extra),
            patience_s,
        )
        version = answer.get("VersionId")
        if version:
            return version if version != "null" else None
        # Some S3 servers (Ceph RGW 16) answer CopyObject without x-amz-version-id: then HEAD,
        # which must show the copy's ETag and metadata, not what someone wrote a moment later.
        head = patiently(f"a look at {key}", lambda: client.head_object(Bucket=bucket, Key=key), patience_s)
        copied = ((answer.get("CopyObjectResult") or {}).get("ETag") or "").strip('"')  # RGW: unquoted
        found = ObjectMeta.from_s3(head.get("Metadata"))
        if (head.get("ETag") or "").strip('"') != copied or (found.name, found.sha256) != (meta.name, meta.sha256):
            raise BackupError(f"{key} changed right after this run copied to it: another writer is at work there")
        version = head.get("VersionId")
        return version if version and version != "null" else None
    patiently(
        f"the copy to {key}",
        lambda: client.copy(
            source,
            bucket,
            key,
            ExtraArgs=extra,
            Config=TransferConfig(multipart_threshold=COPY_MULTIPART_THRESHOLD, multipart_chunksize=COPY_PART_SIZE),
        ),
        patience_s,
    )
    return current_version(client, bucket, key, patience_s)


def current_version(client, bucket, key, patience_s):
    head = patiently(f"a look at {key}", lambda: client.head_object(Bucket=bucket, Key=key), patience_s)
    version = head.get("VersionId")
    return version if version and version != "null" else None


def set_retention(client, bucket, key, version_id, expires, patience_s):
    """Tags (expires) or untags one version explicitly, whatever a copy or upload carried over:
    some S3 servers ignore the tags sent with multipart uploads and copies."""
    version = {"VersionId": version_id} if version_id else {}
    if expires:
        call = functools.partial(client.put_object_tagging, Tagging={"TagSet": [EXPIRE_TAG]})
    else:
        call = client.delete_object_tagging
    patiently(f"the retention tag of {key}", lambda: call(Bucket=bucket, Key=key, **version), patience_s)


def record_checksum(client, bucket, key, version_id, meta, patience_s, size=None):
    """Puts sha256 and size into the object's metadata (known only once the upload ended) by a
    server-side copy of the object onto itself; returns the id of the version that holds them.
    The caller removes the version without them (Rollback.drop), so a versioned bucket keeps
    one version of each timestamped backup."""
    return server_side_copy(client, bucket, source_of(bucket, key, version_id), key, meta, patience_s, True, size)


def head_of_backup(client, bucket, key):
    """The HEAD of a backup; a missing one is named plainly."""
    from botocore.exceptions import ClientError

    try:
        return client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            raise BackupError(f"there is no backup {key} in s3://{bucket}") from None
        raise


def lock_versions(client, bucket, versions, mode, days, patience_s):
    """Object Lock retention on each (key, version) written and verified: nobody can delete or
    overwrite those versions for `days` (GOVERNANCE: but who may bypass it; COMPLIANCE: nobody)."""
    import datetime

    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    for key, version in versions:
        patiently(
            f"the lock of {key}",
            lambda k=key, v=version: client.put_object_retention(
                Bucket=bucket, Key=k, VersionId=v, Retention={"Mode": mode, "RetainUntilDate": until}
            ),
            patience_s,
        )
    LOG.info("locked %d version(s) until %s (%s)", len(versions), until.strftime("%Y-%m-%d"), mode)


def retire(client, bucket, key, patience_s):
    """Tags the current version of key (an earlier format's latest) to expire with the lifecycle;
    False when there is none."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return False
        raise
    version = head.get("VersionId")
    set_retention(client, bucket, key, version if version and version != "null" else None, True, patience_s)
    return True
