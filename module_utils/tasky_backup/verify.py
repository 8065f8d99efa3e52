"""Verify a backup in S3: download it as a stream, check sha256 and size, list the archive."""

import gzip
import tarfile

from .archive import HashingReader
from .aws import s3_client
from .errors import BackupError, reported_as
from .store import resolve_key


@reported_as("verify")
def verify_backup(config, key=None, client=None):
    """Downloads a backup as a stream: checks its sha256 and size and lists the archive."""
    client = client or s3_client(config)
    key = resolve_key(config, key)
    obj = client.get_object(Bucket=config["bucket"], Key=key)
    meta = obj.get("Metadata", {})
    reader = HashingReader(obj["Body"])
    members = []
    try:
        with gzip.GzipFile(fileobj=reader, mode="rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            members = [m.name for m in tar]
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{key} is not a readable tar.gz: {exc}") from None
    while reader.read(1 << 20):
        pass
    sha256 = reader.sha256.hexdigest()
    problems = []
    if meta.get("sha256") and meta["sha256"] != sha256:
        problems.append(f"sha256 {sha256} differs from the recorded {meta['sha256']}")
    if meta.get("size") and int(meta["size"]) != reader.size:
        problems.append(f"size {reader.size} differs from the recorded {meta['size']}")
    if not meta.get("sha256"):
        problems.append("no sha256 recorded in the object metadata")
    bson = [m for m in members if m.endswith(".bson")]
    if not bson:
        problems.append("the archive holds no .bson file")
    return {
        "key": key,
        "valid": not problems,
        "problems": problems,
        "size": reader.size,
        "sha256": sha256,
        "recorded_sha256": meta.get("sha256", ""),
        "members": len(members),
        "collections": sorted(bson),
    }
