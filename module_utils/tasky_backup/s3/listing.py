"""What the bucket holds under the prefix: one paginated listing, and for each backup and alias
its metadata (a HEAD each, a few at a time)."""

import concurrent.futures

from ..base.clock import TIME_FORMAT
from .keys import backup_key_of, created_of, format_of, is_encrypted, kind_of, public_url
from .meta import ObjectMeta
from .retry import is_missing


def list_objects(settings, client):
    """{key: listing entry} of every object under the prefix (one paginated listing)."""
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=settings.prefix):
        for item in page.get("Contents", []):
            objects[item["Key"]] = item
    return objects


def describe(settings, client, key, item):
    """One backup or alias as listed: its sha256 and host from its metadata (a HEAD), and for an
    alias the key of the backup it copies (its metadata carries that backup's name). None when
    the object went away since the listing (the lifecycle)."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=settings.bucket, Key=key)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
    meta = ObjectMeta.from_s3(head.get("Metadata"))
    kind = kind_of(settings.prefix, key)
    entry = {
        "key": key,
        "name": key[len(settings.prefix) :],
        "kind": kind,
        "format": format_of(key),
        "encrypted": is_encrypted(key),
        "size": item["Size"],
        "sha256": meta.sha256,
        "last_modified": item["LastModified"].strftime(TIME_FORMAT),
        "url": public_url(settings, key),
        "host": meta.host,
        "deployment": meta.deployment,
    }
    if kind == "backup":
        entry["created"] = created_of(entry["name"])
        entry["dump_bytes"] = meta.dump_bytes
    else:  # an alias is a copy of a backup of its own format
        entry["copies"] = backup_key_of(settings, key, meta) if meta.name else None
    return entry


def in_parallel(func, items, threads=8):
    """[func(item) for item in items], a few at a time (one HEAD or GET each: S3's latency, not
    this host, is what they wait for); the first failure is raised."""
    if len(items) < 2:
        return [func(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(func, items))


def scan(settings, client):
    """(backups newest first, aliases: latest then daily newest first, every key under the
    prefix) from one listing of the bucket."""
    objects = list_objects(settings, client)
    listed = [(key, item) for key, item in objects.items() if kind_of(settings.prefix, key)]
    found = [entry for entry in in_parallel(lambda pair: describe(settings, client, *pair), listed) if entry]
    backups = sorted((e for e in found if e["kind"] == "backup"), key=lambda e: e["name"], reverse=True)
    # "latest" sorts after "daily-": reversed, latest comes first, then the days newest first.
    aliases = sorted((e for e in found if e["kind"] == "alias"), key=lambda e: e["name"], reverse=True)
    return backups, aliases, set(objects)
