"""Cutting a written stream into fixed-size chunks: S3 parts, and gzip members."""


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
