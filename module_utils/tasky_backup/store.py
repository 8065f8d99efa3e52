"""The S3 side of a backup once uploaded: key names, public URLs, server-side copies, the
retention tag, the checksum metadata, listing."""

import concurrent.futures
import datetime
import functools
import re

from .aws import s3_client
from .clock import TIME_FORMAT
from .config import extension_of
from .errors import reported_as
from .logs import LOG
from .retry import patiently


def names_for(now, backup_format="tar.gz"):
    """The backup's name (no extension) and its aliases' file names, for its format."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    ext = extension_of(backup_format)
    return {
        "name": f"mongodb-backup-{stamp}",
        "daily": f"daily-{now.strftime('%Y-%m-%d')}.{ext}",
        "latest": f"latest.{ext}",
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


def retention_tagging(expires):
    """The Tagging header of an object that may expire, or of one that never does."""
    return f"{EXPIRE_TAG['Key']}={EXPIRE_TAG['Value']}" if expires else ""


def server_side_copy(client, bucket, source, key, metadata, patience_s, expires):
    """Copies inside S3 (no bytes through this host), setting the backup's metadata and its
    retention tag (never the source's: a copy of a backup that may expire to latest.tar.gz must
    not carry that tag, not even for a moment); returns the new object's version id."""
    from boto3.s3.transfer import TransferConfig

    extra = {
        "Metadata": metadata,
        "MetadataDirective": "REPLACE",
        "ContentType": "application/gzip",
        "TaggingDirective": "REPLACE",  # with no Tagging: no tag at all
    }
    if expires:
        extra["Tagging"] = retention_tagging(True)
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


class Writes:
    """The object versions a run wrote, so a run that fails after writing can take them back:
    deleting a version makes the one before it current again (the bucket is versioned), so a
    failed run leaves daily-* and latest.tar.gz as they were."""

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
        for key, version_id in reversed(self.versions):
            if not version_id:
                LOG.error("cannot take back s3://%s/%s: the bucket keeps no versions", self.bucket, key)
                continue
            try:
                self._delete(key, version_id)
                LOG.info("took back s3://%s/%s (version %s) written by this failed run", self.bucket, key, version_id)
            except Exception as exc:  # noqa: BLE001 - reported; the next run or an operator cleans up
                LOG.error("could not take back s3://%s/%s version %s: %s", self.bucket, key, version_id, exc)
        self.versions.clear()


def record_checksum(client, bucket, key, version_id, metadata, patience_s):
    """Puts sha256 and size into the object's metadata (known only once the upload ended) by a
    server-side copy of the object onto itself; returns the id of the version that holds them.
    The caller removes the version without them (Writes.drop), so a versioned bucket keeps one
    version of each timestamped backup."""
    return server_side_copy(client, bucket, source_of(bucket, key, version_id), key, metadata, patience_s, True)


def source_of(bucket, key, version_id):
    """A copy source: that exact version, when the bucket keeps versions."""
    source = {"Bucket": bucket, "Key": key}
    if version_id:
        source["VersionId"] = version_id
    return source


# Both formats: .tar.gz (mongodump's folders) and .archive.gz (mongodump --archive, gzipped).
BACKUP_NAME = re.compile(r"^mongodb-backup-(\d{8}-\d{6})\.(tar|archive)\.gz$")
ALIAS_NAME = re.compile(r"^(?:latest|daily-\d{4}-\d{2}-\d{2})\.(tar|archive)\.gz$")


def format_of(key):
    """'archive' for a .archive.gz key, else 'tar.gz' (the seed's format)."""
    return "archive" if key.endswith(".archive.gz") else "tar.gz"


def kind_of(config, key):
    """'backup' (mongodb-backup-YYYYMMDD-HHMMSS.tar.gz), 'alias' (latest, daily-YYYY-MM-DD) or
    None (the catalogue, sidecars, anything else under the prefix)."""
    name = key[len(config["prefix"]) :] if key.startswith(config["prefix"]) else ""
    if BACKUP_NAME.match(name):
        return "backup"
    if ALIAS_NAME.match(name):
        return "alias"
    return None


def created_of(name):
    """The UTC time in a backup's name (when its run started), in the engine's time format."""
    stamp = BACKUP_NAME.match(name).group(1)
    return datetime.datetime.strptime(stamp, "%Y%m%d-%H%M%S").strftime(TIME_FORMAT)


def list_objects(config, client):
    """{key: listing entry} of every object under the prefix (one paginated listing)."""
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=config["bucket"], Prefix=config["prefix"]):
        for item in page.get("Contents", []):
            objects[item["Key"]] = item
    return objects


def describe(config, client, key, item):
    """One backup or alias as listed: its sha256 and host from its metadata (a HEAD), and for an
    alias the key of the backup it copies (its metadata carries that backup's name). None when
    the object went away since the listing (the lifecycle)."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=config["bucket"], Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    meta = head.get("Metadata", {})
    kind = kind_of(config, key)
    entry = {
        "key": key,
        "name": key[len(config["prefix"]) :],
        "kind": kind,
        "format": format_of(key),
        "size": item["Size"],
        "sha256": meta.get("sha256", ""),
        "last_modified": item["LastModified"].strftime(TIME_FORMAT),
        "url": public_url(config, key),
        "host": meta.get("host", ""),
        "deployment": meta.get("deployment", ""),
    }
    if kind == "backup":
        entry["created"] = created_of(entry["name"])
        entry["dump_bytes"] = int(meta["dump-bytes"]) if meta.get("dump-bytes", "").isdigit() else None
    else:
        source = meta.get("tasky-backup", "")
        ext = extension_of(format_of(key))  # an alias is a copy of a backup of its own format
        entry["copies"] = f"{config['prefix']}{source}.{ext}" if source else None
    return entry


def in_parallel(func, items, threads=8):
    """[func(item) for item in items], a few at a time (one HEAD or GET each: S3's latency, not
    this host, is what they wait for); the first failure is raised."""
    if len(items) < 2:
        return [func(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(func, items))


def scan(config, client):
    """(backups newest first, aliases: latest then daily newest first, every key under the
    prefix) from one listing of the bucket."""
    objects = list_objects(config, client)
    listed = [(key, item) for key, item in objects.items() if kind_of(config, key)]
    found = [entry for entry in in_parallel(lambda pair: describe(config, client, *pair), listed) if entry]
    backups = sorted((e for e in found if e["kind"] == "backup"), key=lambda e: e["name"], reverse=True)
    # "latest" sorts after "daily-": reversed, latest comes first, then the days newest first.
    aliases = sorted((e for e in found if e["kind"] == "alias"), key=lambda e: e["name"], reverse=True)
    return backups, aliases, set(objects)


@reported_as("list")
def list_backups(config, client=None):
    """The backups (newest first) and their aliases (latest, daily-*), each with its sha256; an
    alias says which backup it copies. Nothing else under the prefix (the catalogue, sidecars)."""
    backups, aliases, _keys = scan(config, client or s3_client(config))
    return backups + aliases


def latest_key(config):
    """latest.tar.gz, or latest.archive.gz in the archive format."""
    return f"{config['prefix']}latest.{extension_of(config['format'])}"


def resolve_key(config, key):
    """latest, a name under the public prefix, or a whole key under it or under the private
    users_prefix (the users archive), as given."""
    if not key or key == "latest":
        return latest_key(config)
    private = config.get("users_prefix")
    if key.startswith(config["prefix"]) or (private and key.startswith(private)):
        return key
    return f"{config['prefix']}{key}"
