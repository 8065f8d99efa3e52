"""The metadata each backup object carries (x-amz-meta-*): one class writes and reads it.

S3 metadata is a flat map of short strings, at most 2 KB in all; what a dump held in detail is
in the backup's signed manifest (s3/manifest.py)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class ObjectMeta:
    name: str = ""  # the backup's name (mongodb-backup-YYYYMMDD-HHMMSS): an alias says which it copies
    format: str = ""
    deployment: str = ""
    host: str = ""
    writer: str = ""  # who may replace it: "replica set NAME", else the host's alias
    dump_bytes: int = None  # what the archive unpacks to (a restore needs that much room)
    sha256: str = ""  # of the stored bytes, known once the upload ended
    size: int = None

    # field -> metadata key, in the order they are written
    KEYS = (
        ("name", "tasky-backup"),
        ("format", "format"),
        ("deployment", "deployment"),
        ("host", "host"),
        ("writer", "writer"),
        ("dump_bytes", "dump-bytes"),
        ("sha256", "sha256"),
        ("size", "size"),
    )
    NUMBERS = ("dump_bytes", "size")

    def to_s3(self):
        """The Metadata of a PutObject, CreateMultipartUpload or CopyObject (REPLACE)."""
        out = {}
        for field, key in self.KEYS:
            value = getattr(self, field)
            if value is not None and value != "":
                out[key] = str(value)
        return out

    @classmethod
    def from_s3(cls, metadata):
        """What a HEAD or GET answered; a number that is not one reads as unknown (None)."""
        metadata = metadata or {}
        values = {}
        for field, key in cls.KEYS:
            raw = metadata.get(key, "")
            if field in cls.NUMBERS:
                values[field] = int(raw) if raw.isascii() and raw.isdigit() else None
            else:
                values[field] = raw
        return cls(**values)

    def but(self, **changes):
        return dataclasses.replace(self, **changes)
