"""Verify a backup in S3: download it as a stream, check sha256 and size against what was
recorded, and read it through in its format (the tar listing of a tar.gz, every namespace and
document of a mongodump archive)."""

import dataclasses

from ..base.errors import reported_as
from ..base.results import Result
from ..formats.gzip import HashingReader
from ..formats.registry import for_key
from ..s3.client import s3_client
from ..s3.keys import resolve_key
from ..s3.meta import ObjectMeta


@dataclasses.dataclass
class VerifyResult(Result):
    key: str
    format: str
    valid: bool
    problems: list
    size: int
    sha256: str
    recorded_sha256: str
    members: int
    collections: list


@reported_as("verify")
def verify_backup(settings, request, client=None):
    client = client or s3_client(settings)
    key = resolve_key(settings, request.key)
    fmt = for_key(key)
    obj = client.get_object(Bucket=settings.bucket, Key=key)
    meta = ObjectMeta.from_s3(obj.get("Metadata"))
    reader = HashingReader(obj["Body"])
    reading = fmt.read_through(key, reader, public=key.startswith(settings.prefix))
    reader.drain()
    sha256 = reader.sha256.hexdigest()
    problems = list(reading.problems)
    if meta.sha256 and meta.sha256 != sha256:
        problems.append(f"sha256 {sha256} differs from the recorded {meta.sha256}")
    if meta.size is not None and meta.size != reader.size:
        problems.append(f"size {reader.size} differs from the recorded {meta.size}")
    if not meta.sha256:
        problems.append("no sha256 recorded in the object metadata")
    return VerifyResult(
        key=key,
        format=fmt.name,
        valid=not problems,
        problems=problems,
        size=reader.size,
        sha256=sha256,
        recorded_sha256=meta.sha256,
        members=reading.members,
        collections=reading.collections,
    )
