"""The S3 side of a backup: key names, the streaming multipart upload, its verification,
server-side copies, listing."""

import hashlib
import queue
import threading
import time

from .aws import s3_client
from .chunking import ChunkingWriter
from .clock import TIME_FORMAT
from .errors import BackupError, reported_as
from .logs import LOG


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


class MultipartWriter(ChunkingWriter):
    """A write-only file object that streams into an S3 multipart upload.

    Parts are uploaded by worker threads while the caller keeps compressing; at most
    `threads + 1` parts are in memory at once. Keeps the sha256 and size of everything written
    and the MD5 of each part, from which S3's multipart ETag can be checked.
    """

    def __init__(self, client, bucket, key, part_size, threads, metadata):
        super().__init__(part_size)
        self.client, self.bucket, self.key = client, bucket, key
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.parts = {}
        self.part_md5s = {}
        self.next_part = 1
        self.error = None
        self.upload_id = client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType="application/gzip", Metadata=metadata
        )["UploadId"]
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
                    etag = self.client.upload_part(
                        Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
                    )["ETag"]
                    self.parts[number] = etag
            except Exception as exc:  # noqa: BLE001 - reported to the writer thread
                self.error = exc

    def write(self, data):
        if self.error is not None:
            raise BackupError(f"upload of part failed: {self.error}")
        self.sha256.update(data)
        self.size += len(data)
        return super().write(data)

    def _chunk(self, body):
        self.part_md5s[self.next_part] = hashlib.md5(body, usedforsecurity=False).digest()
        self.queue.put((self.next_part, body))
        self.next_part += 1

    def _join(self):
        for _ in self.workers:
            self.queue.put(None)
        for worker in self.workers:
            worker.join()

    def complete(self):
        if self.buffer or self.next_part == 1:
            self._chunk(self._rest())
        self._join()
        if self.error is not None:
            raise BackupError(f"upload of part failed: {self.error}")
        parts = [{"PartNumber": n, "ETag": self.parts[n]} for n in sorted(self.parts)]
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
        )

    def abort(self, patience_s=60):
        """Aborts the upload, retrying through a short outage; past that the lifecycle rule
        (abort incomplete multipart uploads after a day) removes it."""
        self.error = self.error or BackupError("aborted")
        self._join()
        deadline = time.monotonic() + patience_s
        while True:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
                LOG.info("aborted the multipart upload of s3://%s/%s", self.bucket, self.key)
                return
            except Exception as exc:  # noqa: BLE001 - retried, then left to the lifecycle rule
                if time.monotonic() > deadline:
                    LOG.error("could not abort the multipart upload (the lifecycle removes it in a day): %s", exc)
                    return
                time.sleep(1)

    def expected_etag(self):
        digests = b"".join(self.part_md5s[n] for n in sorted(self.part_md5s))
        return f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{len(self.part_md5s)}"'


def verify_upload(client, bucket, key, size, expected_etag):
    head = client.head_object(Bucket=bucket, Key=key)
    if head["ContentLength"] != size:
        raise BackupError(f"uploaded object has {head['ContentLength']} bytes, expected {size}")
    if head["ETag"] != expected_etag:
        raise BackupError(f"uploaded object's ETag {head['ETag']} does not match the parts sent ({expected_etag})")
    LOG.info("verified s3://%s/%s: size and multipart ETag match", bucket, key)


# CopyObject copies at most 5 GiB; boto3's managed copy switches to a multipart copy
# (UploadPartCopy, still server-side) from this size on.
COPY_MULTIPART_THRESHOLD = 5 << 30
COPY_PART_SIZE = 512 << 20


def server_side_copy(client, bucket, source, key, metadata):
    """Copies inside S3 (no bytes through this host), setting the backup's metadata."""
    from boto3.s3.transfer import TransferConfig

    client.copy(
        source,
        bucket,
        key,
        ExtraArgs={"Metadata": metadata, "MetadataDirective": "REPLACE", "ContentType": "application/gzip"},
        Config=TransferConfig(multipart_threshold=COPY_MULTIPART_THRESHOLD, multipart_chunksize=COPY_PART_SIZE),
    )


def record_checksum(client, bucket, key, metadata):
    """Puts sha256 and size into the object's metadata (known only once the upload ended).

    A server-side copy onto itself replaces the metadata; the version it replaced is removed so
    a versioned bucket keeps one version of each timestamped backup.
    """
    original = client.head_object(Bucket=bucket, Key=key).get("VersionId")
    source = {"Bucket": bucket, "Key": key}
    if original and original != "null":
        source["VersionId"] = original
    server_side_copy(client, bucket, source, key, metadata)
    if original and original != "null":
        client.delete_object(Bucket=bucket, Key=key, VersionId=original)


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
