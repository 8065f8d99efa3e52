"""Verify a backup in S3: download it as a stream, check sha256 and size, and read the archive
through: the tar listing of a tar.gz, every namespace and document of a mongodump archive."""

import gzip
import tarfile

from .archive import HashingReader
from .aws import s3_client
from .config import PRIVATE_DATABASES
from .errors import BackupError, reported_as
from .mongoarchive import ArchiveFilter
from .store import format_of, resolve_key


def read_targz(key, reader):
    """(members, .bson members, problems) of a tar.gz stream."""
    try:
        with gzip.GzipFile(fileobj=reader, mode="rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            members = [m.name for m in tar]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{key} is not a readable tar.gz: {exc}") from None
    bson = sorted(m for m in members if m.endswith(".bson"))
    return len(members), bson, [] if bson else ["the archive holds no .bson file"]


def read_mongodump_archive(key, reader, public=True):
    """(the ArchiveFilter that read it, collections as db.collection, problems) of a gzipped
    mongodump archive, read to its end (every document's length checked, nothing decoded but
    the headers)."""
    archive = ArchiveFilter()
    try:
        with gzip.GzipFile(fileobj=reader, mode="rb") as gz:
            for chunk in iter(lambda: gz.read(1 << 20), b""):
                archive.write(chunk)
        archive.close()
    except (OSError, EOFError, BackupError) as exc:
        raise BackupError(f"{key} is not a readable gzipped mongodump archive: {exc}") from None
    names = sorted(".".join(ns) for ns in archive.namespaces if ns[0])
    problems = [f"{name}: no end-of-collection marker" for name in archive.unfinished()]
    private = sorted(name for name in names if name.split(".", 1)[0] in PRIVATE_DATABASES)
    if public and private:
        problems.append(f"the archive holds private namespaces: {', '.join(private)}")
    if not names:
        problems.append("the archive holds no collection")
    return archive, names, problems


@reported_as("verify")
def verify_backup(config, key=None, client=None):
    """Downloads a backup as a stream: checks its sha256 and size and reads the archive."""
    client = client or s3_client(config)
    key = resolve_key(config, key)
    obj = client.get_object(Bucket=config["bucket"], Key=key)
    meta = obj.get("Metadata", {})
    reader = HashingReader(obj["Body"])
    backup_format = format_of(key)
    if backup_format == "archive":
        archive, collections, problems = read_mongodump_archive(key, reader, key.startswith(config["prefix"]))
        members = len(archive.namespaces)
    else:
        members, collections, problems = read_targz(key, reader)
    while reader.read(1 << 20):
        pass
    sha256 = reader.sha256.hexdigest()
    if meta.get("sha256") and meta["sha256"] != sha256:
        problems.append(f"sha256 {sha256} differs from the recorded {meta['sha256']}")
    if meta.get("size") and int(meta["size"]) != reader.size:
        problems.append(f"size {reader.size} differs from the recorded {meta['size']}")
    if not meta.get("sha256"):
        problems.append("no sha256 recorded in the object metadata")
    return {
        "key": key,
        "format": backup_format,
        "valid": not problems,
        "problems": problems,
        "size": reader.size,
        "sha256": sha256,
        "recorded_sha256": meta.get("sha256", ""),
        "members": members,
        "collections": collections,
    }
