"""The streamed S3 multipart upload of a backup: its part size, the writer that uploads parts
while the caller compresses, the check of what S3 stored, and the verified object as a whole."""

import base64
import dataclasses
import hashlib
import logging
import queue
import threading

from ..base.errors import BackupError
from .objects import record_checksum, retention_tagging, set_retention
from .retry import patiently

LOG = logging.getLogger(__name__)

MIB = 1 << 20
MAX_PARTS = 10000  # S3's limit per multipart upload
MAX_PART = 5 << 30  # S3's largest part
MAX_OBJECT = 5 << 40  # S3's largest object: 5 TiB


def part_size_for(expected_bytes, configured_mib):
    """The configured part size, or more when the archive would need more than S3's 10,000
    parts; whole MiB. expected_bytes bounds the archive (gzip of incompressible data grows a
    little, so the bound carries 1% and a MiB of slack). In the archive format the dump's size
    is the server's estimate (dbStats dataSize): MultipartWriter also grows its parts as it
    goes (grown_part_size), so a dump bigger than its estimate still fits."""
    bound = int(expected_bytes * 1.01) + MIB
    if bound > MAX_OBJECT:
        raise BackupError(f"the archive could reach {bound} bytes, over S3's 5 TiB limit for one object")
    needed = -(-bound // (MAX_PARTS - 100))  # ceil, with 100 parts to spare
    size = max(configured_mib * MIB, -(-needed // MIB) * MIB)
    return min(size, MAX_PART)


GROW_FROM = MAX_PARTS // 2  # past this part number, parts double every GROW_EVERY parts
GROW_EVERY = 1000


def grown_part_size(part_number, part_size):
    """The size of part part_number when the first parts had part_size: unchanged up to part
    5,000, then doubling every 1,000 parts (at most S3's 5 GiB): 10,000 parts hold 67,000
    first-size parts (5,000 x 1 + 1,000 x (2 + 4 + 8 + 16 + 32)), so a dump 6 times bigger than
    the estimate part_size_for planned for (9,900 parts) still fits, while a right estimate
    never grows them."""
    if part_number <= GROW_FROM:
        return part_size
    return min(part_size << (1 + (part_number - GROW_FROM - 1) // GROW_EVERY), MAX_PART)


class ChunkingWriter:
    """A write-only file object that hands what is written on in chunks of a fixed size."""

    def __init__(self, chunk_size):
        self.chunk_size = chunk_size
        self.buffer = bytearray()

    def write(self, data):
        self.buffer += data
        while len(self.buffer) >= self.chunk_size:
            self._chunk(bytes(self.buffer[: self.chunk_size]))
            del self.buffer[: self.chunk_size]
        return len(data)

    def _rest(self):
        """The last, short chunk."""
        rest = bytes(self.buffer)
        self.buffer.clear()
        return rest


class MultipartWriter(ChunkingWriter):
    """A write-only file object that streams into an S3 multipart upload.

    Parts are uploaded by worker threads while the caller keeps compressing; at most
    `2 x threads + 1` parts are in memory at once (one uploading per thread, as many queued,
    one filling), and a part that fails through an outage is
    retried for up to patience_s. Keeps the sha256 and size of everything written, and the MD5
    and SHA-256 of each part: each part is sent with its SHA-256 (S3 additional checksums), and
    the multipart ETag or the composite checksum can be checked afterwards.
    """

    def __init__(self, client, bucket, key, part_size, threads, meta, patience_s, tagging="", progress=None):
        super().__init__(part_size)
        self.client, self.bucket, self.key, self.patience_s = client, bucket, key, patience_s
        self.first_part_size = part_size
        self.progress = progress
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.parts = {}
        self.part_md5s = {}
        self.part_sha256s = {}
        self.next_part = 1
        self.error = None
        self.completed = False
        self.upload_id = patiently(
            f"the start of the upload of {key}",
            lambda: client.create_multipart_upload(
                Bucket=bucket,
                Key=key,
                ContentType="application/gzip",
                Metadata=meta.to_s3(),
                ChecksumAlgorithm="SHA256",
                **({"Tagging": tagging} if tagging else {}),
            )["UploadId"],
            patience_s,
        )
        self.queue = queue.Queue(maxsize=threads)
        self.workers = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        for worker in self.workers:
            worker.start()

    def _work(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            number, body = item
            try:
                if self.error is None:
                    self.parts[number] = patiently(
                        f"part {number} of {self.key}",
                        lambda n=number, b=body: self._upload_part(n, b),
                        self.patience_s,
                        stopped=lambda: self.error is not None,
                    )
                    if self.progress:
                        self.progress.uploaded(len(body))
            except Exception as exc:  # noqa: BLE001 - reported to the writer thread
                if self.error is None:  # the first failure says why; the others follow from it
                    self.error = exc

    def _upload_part(self, number, body):
        answer = self.client.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=body,
            ChecksumSHA256=base64.b64encode(self.part_sha256s[number]).decode(),
        )
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        if answer.get("ChecksumSHA256"):  # servers without additional checksums do not echo it
            part["ChecksumSHA256"] = answer["ChecksumSHA256"]
        return part

    def write(self, data):
        if self.error is not None:
            raise BackupError(f"upload of part failed: {self.error}")
        self.sha256.update(data)
        self.size += len(data)
        if self.progress:
            self.progress.compressed(len(data))
        return super().write(data)

    def flush(self):
        """Nothing to flush: parts leave when full (compressors call this)."""

    def halt(self):
        """Stops taking data (the run failed elsewhere): writes raise, queued parts are dropped."""
        self.error = self.error or BackupError("aborted")

    def _chunk(self, body):
        if self.next_part > MAX_PARTS:
            raise BackupError(f"the archive needs more than S3's {MAX_PARTS} parts")
        self.part_md5s[self.next_part] = hashlib.md5(body, usedforsecurity=False).digest()
        self.part_sha256s[self.next_part] = hashlib.sha256(body).digest()
        self.queue.put((self.next_part, body))
        self.next_part += 1
        self.chunk_size = grown_part_size(self.next_part, self.first_part_size)

    def _join(self):
        for _ in self.workers:
            self.queue.put(None)
        for worker in self.workers:
            worker.join()

    def complete(self):
        """Sends the last part and completes the upload; returns the new object's version id."""
        if self.buffer or self.next_part == 1:
            self._chunk(self._rest())
        self._join()
        if self.error is not None:
            raise BackupError(f"upload of part failed: {self.error}")
        parts = [self.parts[n] for n in sorted(self.parts)]
        answer = patiently(
            f"the completion of {self.key}",
            lambda: self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
            ),
            self.patience_s,
        )
        self.completed = True
        version = answer.get("VersionId")
        return version if version and version != "null" else None

    def abort(self):
        """Aborts the upload unless it completed, retrying through an outage for at least a
        minute; past that the lifecycle rule (abort incomplete multipart uploads after a day)
        removes it."""
        self.error = self.error or BackupError("aborted")
        self._join()
        if self.completed:
            return
        try:
            patiently(
                f"the abort of the upload of {self.key}",
                lambda: self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id),
                max(self.patience_s, 60),
            )
            LOG.info("aborted the multipart upload of s3://%s/%s", self.bucket, self.key)
        except Exception as exc:  # noqa: BLE001 - left to the lifecycle rule
            LOG.error("could not abort the multipart upload (the lifecycle removes it in a day): %s", exc)

    def expected_etag(self):
        digests = b"".join(self.part_md5s[n] for n in sorted(self.part_md5s))
        return f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(self.part_md5s)}"'

    def expected_checksum(self):
        """S3's composite SHA-256 of a multipart object: the SHA-256 of the parts' SHA-256s."""
        digests = b"".join(self.part_sha256s[n] for n in sorted(self.part_sha256s))
        return base64.b64encode(hashlib.sha256(digests).digest()).decode()


def verify_upload(client, bucket, key, writer, version_id=None):
    """Checks the object S3 stored against what was sent; returns which check ran.

    The strongest the server offers: S3's SHA-256 part checksums; else the multipart ETag (the
    MD5 of the parts' MD5s, which S3 computes for unencrypted and SSE-S3 objects); else (an ETag
    that is not that MD5, e.g. SSE-KMS on a server without checksums) a re-read of the whole
    object and its sha256. The size is checked in every case.
    """
    version = {"VersionId": version_id} if version_id else {}
    head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **version)
    if head["ContentLength"] != writer.size:
        raise BackupError(f"uploaded object has {head['ContentLength']} bytes, expected {writer.size}")
    stored = head.get("ChecksumSHA256")
    if stored:
        if stored.split("-")[0] != writer.expected_checksum():
            raise BackupError(f"uploaded object's SHA-256 checksum {stored} does not match the parts sent")
        method = "size and SHA-256 part checksums"
    elif head["ETag"] == writer.expected_etag():
        method = "size and multipart ETag (MD5 of the parts)"
    else:
        LOG.info("the ETag %s is not the MD5 of the parts sent; re-reading the object", head["ETag"])
        body = client.get_object(Bucket=bucket, Key=key, **version)["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(MIB), b""):
            digest.update(chunk)
        if digest.hexdigest() != writer.sha256.hexdigest():
            raise BackupError(f"uploaded object's sha256 {digest.hexdigest()} differs from what was sent")
        method = "size and sha256 of a re-read of the whole object"
    LOG.info("verified s3://%s/%s: %s", bucket, key, method)
    return method


@dataclasses.dataclass(frozen=True)
class Uploaded:
    """A verified object: its sha256 and size, the version that holds them in its metadata."""

    key: str
    sha256: str
    size: int
    version: str
    meta: object  # its ObjectMeta, sha256 and size included


def upload_verified(settings, client, key, part_size, meta, rollback, produce, progress=None):
    """One verified object, tagged to expire, whose bytes `produce(writer)` writes (already
    gzipped), with meta (an ObjectMeta) and its sha256 and size in its metadata; produce may
    return the meta completed (what it learnt while writing). A failure aborts the upload; what
    was written is in `rollback`, for the run to take back should it fail later."""
    bucket, patience = settings.bucket, settings.s3_patience_s
    writer = MultipartWriter(
        client,
        bucket,
        key,
        part_size,
        settings.upload_threads,
        meta,
        patience,
        tagging=retention_tagging(True),
        progress=progress,
    )
    try:
        meta = produce(writer) or meta
        version = writer.complete()
        rollback.add(key, version)
        sha256, size = writer.sha256.hexdigest(), writer.size
        LOG.info("uploaded s3://%s/%s: %d bytes in %d parts, sha256 %s", bucket, key, size, len(writer.parts), sha256)
        verify_upload(client, bucket, key, writer, version)
    except BaseException:
        writer.abort()
        raise
    meta = meta.but(sha256=sha256, size=size)
    checked = record_checksum(client, bucket, key, version, meta, patience, size)
    rollback.add(key, checked)
    rollback.drop(key, version)  # the version without the checksum
    set_retention(client, bucket, key, checked, True, patience)
    return Uploaded(key, sha256, size, checked, meta)
