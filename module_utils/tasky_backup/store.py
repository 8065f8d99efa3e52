"""The S3 side of a backup once uploaded: key names, public URLs, server-side copies, the
retention tag, the checksum metadata, listing."""

import functools

from .aws import s3_client
from .clock import TIME_FORMAT
from .errors import reported_as
from .retry import patiently


def names_for(now):
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return {
        "name": f"mongodb-backup-{stamp}",
        "daily": f"daily-{now.strftime('%Y-%m-%d')}.tar.gz",
        "latest": "latest.tar.gz",
    }


def public_url(config, key):
    base = config["public_base_url"]
    if not base:
        if config["endpoint_url"]:
            base = f"{config['endpoint_url'].rstrip('/')}/{config['bucket']}"
        else:
            base = f"https://{config['bucket']}.s3.{config['region']}.amazonaws.com"
    return f"{base.rstrip('/')}/{key}"


# CopyObject copies at most 5 GiB; boto3's managed copy switches to a multipart copy
# (UploadPartCopy, still server-side) from this size on.
COPY_MULTIPART_THRESHOLD = 5 << 30
COPY_PART_SIZE = 512 << 20


# Objects with this tag expire by the bucket's lifecycle (30 days); latest.tar.gz never has it,
# so it keeps its current version whatever happens, even when backups stop for a month.
EXPIRE_TAG = {"Key": "tasky-retention", "Value": "expire"}


def server_side_copy(client, bucket, source, key, metadata, patience_s):
    """Copies inside S3 (no bytes through this host), setting the backup's metadata; returns
    the new object's version id."""
    from boto3.s3.transfer import TransferConfig

    patiently(
        f"the copy to {key}",
        lambda: client.copy(
            source,
            bucket,
            key,
            ExtraArgs={"Metadata": metadata, "MetadataDirective": "REPLACE", "ContentType": "application/gzip"},
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


def record_checksum(client, bucket, key, version_id, metadata, patience_s):
    """Puts sha256 and size into the object's metadata (known only once the upload ended);
    returns the id of the version that holds them.

    A server-side copy onto itself replaces the metadata; the version it replaced is removed so
    a versioned bucket keeps one version of each timestamped backup.
    """
    source = {"Bucket": bucket, "Key": key}
    if version_id:
        source["VersionId"] = version_id
    new_version = server_side_copy(client, bucket, source, key, metadata, patience_s)
    if version_id:
        patiently(
            f"the removal of the version without checksum of {key}",
            lambda: client.delete_object(Bucket=bucket, Key=key, VersionId=version_id),
            patience_s,
        )
    return new_version


@reported_as("list")
def list_backups(config, client=None):
    client = client or s3_client(config)
    paginator = client.get_paginator("list_objects_v2")
    backups = []
    for page in paginator.paginate(Bucket=config["bucket"], Prefix=config["prefix"]):
        for item in page.get("Contents", []):
            backups.append(
                {
                    "key": item["Key"],
                    "size": item["Size"],
                    "last_modified": item["LastModified"].strftime(TIME_FORMAT),
                    "url": public_url(config, item["Key"]),
                }
            )
    return sorted(backups, key=lambda b: b["key"])


def resolve_key(config, key):
    if not key or key == "latest":
        return f"{config['prefix']}latest.tar.gz"
    return key if key.startswith(config["prefix"]) else f"{config['prefix']}{key}"
