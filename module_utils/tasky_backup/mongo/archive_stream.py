"""mongodump's archive format (`mongodump --archive`), read as it streams past: which namespaces
it holds, how many documents each, their index names, and a filter that leaves databases out.

The format is MongoDB's own (mongo-tools, common/archive/spec.md):

    archive   = magic-number, header, *collection-metadata, terminator,
                *(namespace-header, *document, terminator)
    magic     = 0x8199e26d (little-endian), terminator = 0xffffffff (int32 -1)

header, collection-metadata ({db, collection, metadata (Extended JSON, the metadata.json of the
folder format), size, type}) and namespace headers ({db, collection, EOF, CRC}) are BSON
documents; collections are dumped in interleaved segments, each under its namespace header, and
each collection ends with an EOF header carrying its CRC. The oplog of `--oplog` is the
namespace db "", collection "oplog".

Why a filter: mongodump 100.x has no option to leave databases out of a whole-server dump
(--nsExclude is mongorestore's; --excludeCollection needs --db), and a whole-server dump is what
--oplog needs and what several databases in one archive need. It always holds admin (every
user's SCRAM credentials) and parts of config, which must never be published. ArchiveFilter
drops their prelude entries and segments before anything is compressed: the bytes never leave
the process. Documents are counted by walking their length prefixes, never decoded.

The oplog of an --oplog dump holds every write made while the dump ran, on any namespace:
admin.system.users too when a password changes meanwhile. Its entries are decoded, and only the
operations on kept databases pass (inside applyOps too); since mongorestore checks each
namespace's CRC-64 (ECMA, as Go's hash/crc64) at its EOF header, the oplog's EOF header is
rewritten with the CRC of what passed.
"""

import json
import struct

from ..base.errors import BackupError
from .oplog import decode_entry, keep_operation

MAGIC = struct.pack("<I", 0x8199E26D)
TERMINATOR = -1
MIN_DOCUMENT = 5
MAX_DOCUMENT = 48 << 20  # BSON documents are at most 16 MiB; mongodump's own limit is wider
OPLOG = ("", "oplog")

_INT32 = struct.Struct("<i")
TERMINATOR_BYTES = _INT32.pack(TERMINATOR)


def _crc64_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xC96C5795D7870F42 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC64_TABLE = _crc64_table()


def crc64(crc, data):
    """Go's crc64.Update with the ECMA table (mongodump's namespace CRC): crc 0 to start."""
    crc ^= 0xFFFFFFFFFFFFFFFF
    table = CRC64_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def signed64(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def decode(raw):
    import bson

    return bson.decode(bytes(raw))


def index_names_of(metadata_json):
    """indexes[].name of a collection's metadata (Extended JSON)."""
    if not metadata_json:
        return []
    try:
        meta = json.loads(metadata_json)
    except ValueError:
        return []
    return [ix.get("name", "") for ix in meta.get("indexes") or [] if isinstance(ix, dict)]


class ArchiveFilter:
    """A write-only file object: takes a mongodump archive stream, writes to `out` (if any) the
    same archive without the namespaces whose database `keep(db)` refuses, and records what
    passed: namespaces[(db, collection)] = {"documents", "indexes", "type", "eof"}."""

    def __init__(self, out=None, keep=lambda db: True):
        self.out, self.keep = out, keep
        self.buffer = bytearray()
        self.state = "magic"
        self.header = {}
        self.namespaces = {}
        self.dropped = set()
        self.current = None  # the namespace of the segment being read
        self.current_kept = True
        self.bytes_in = self.bytes_out = 0
        # The oplog's segments: filtered entry by entry, their header held back until an entry
        # passes (a segment has at least one document), the CRC of what passed kept.
        self.filtering_oplog = False
        self.pending_header = None
        self.segment_open = False
        self.oplog_crc = 0
        self.oplog_dropped = 0

    # -- parsing ---------------------------------------------------------------------------
    def write(self, data):
        self.bytes_in += len(data)
        self.buffer += data
        buf, pos, run = self.buffer, 0, 0  # run: start of the bytes to pass on, not yet written
        more = True
        while more:
            pos, run, more = self._step(buf, pos, run)
        self._flush(buf, run, pos)
        del buf[:pos]

    def _step(self, buf, pos, run):
        """One element of the stream at pos: (its end, where the bytes to pass on start, whether
        to go on); a partial element waits for the next write."""
        end = len(buf)
        if self.state == "body":
            body = self._oplog_body if self.filtering_oplog else self._body
            pos, done = body(buf, pos, end)
            if self.filtering_oplog or not self.current_kept:
                # the oplog's entries that pass are written by _oplog_body itself; a dropped
                # segment's documents are skipped as they are walked
                run = pos
            return pos, run, done
        if self.state == "magic":
            if end - pos < 4:
                return pos, run, False
            if buf[pos : pos + 4] != MAGIC:
                raise BackupError("the stream is not a mongodump archive (no magic number)")
            self.state = "header"
            return pos + 4, run, True
        if end - pos < 4:
            return pos, run, False
        (length,) = _INT32.unpack_from(buf, pos)
        if length == TERMINATOR:
            if self.state != "prelude":
                raise BackupError(f"mongodump archive: a terminator where a {self.state} was expected")
            self.state = "namespace"
            return pos + 4, run, True
        if not MIN_DOCUMENT <= length <= MAX_DOCUMENT:
            raise BackupError(f"mongodump archive: a document of {length} bytes in the {self.state}")
        if end - pos < length:
            return pos, run, False
        doc = decode(buf[pos : pos + length])
        handle = {"header": self._header, "prelude": self._prelude, "namespace": self._namespace}[self.state]
        return pos + length, handle(doc, buf, pos, length, run), True

    def _header(self, doc, _buf, _pos, _length, run):
        self.header = doc
        self.state = "prelude"
        return run

    def _prelude(self, doc, buf, pos, length, run):
        """A collection's metadata: recorded, or left out with its database."""
        namespace = (doc.get("db", ""), doc.get("collection", ""))
        if not self._kept(namespace):
            self._flush(buf, run, pos)
            return pos + length
        entry = self._entry(namespace)
        entry["indexes"] = index_names_of(doc.get("metadata"))
        entry["type"] = doc.get("type") or "collection"
        return run

    def _namespace(self, doc, buf, pos, length, run):
        """A namespace header: a segment (documents follow) or the namespace's EOF."""
        namespace = (doc.get("db", ""), doc.get("collection", ""))
        self.current, self.current_kept = namespace, self._kept(namespace)
        self.filtering_oplog = namespace == OPLOG
        self.state = "body"
        if not self.current_kept:
            self._flush(buf, run, pos)
            return pos + length
        if self.filtering_oplog:
            self._flush(buf, run, pos)
            self.segment_open = False
            if doc.get("EOF"):  # with the CRC of the entries that passed
                import bson

                # Int64, as mongodump writes it (a small CRC would otherwise be an int32)
                self._emit(bson.encode({**doc, "CRC": bson.Int64(signed64(self.oplog_crc))}))
                self.segment_open = True
                self._entry(namespace)["eof"] = True
            else:
                self.pending_header = bytes(buf[pos : pos + length])
            return pos + length
        if doc.get("EOF"):
            self._entry(namespace)["eof"] = True
        return run

    def _body(self, buf, pos, end):
        """Walks the documents of a segment to its terminator: (position, whether it ended)."""
        unpack = _INT32.unpack_from
        count = 0
        ended = False
        while end - pos >= 4:
            (length,) = unpack(buf, pos)
            if length == TERMINATOR:
                pos += 4
                ended = True
                break
            if not MIN_DOCUMENT <= length <= MAX_DOCUMENT:
                raise BackupError(f"mongodump archive: a document of {length} bytes in {'.'.join(self.current)}")
            if end - pos < length:
                break
            pos += length
            count += 1
        if self.current_kept and count:
            self._entry(self.current)["documents"] += count
        if ended:
            self.state = "namespace"
        return pos, ended

    def _oplog_body(self, buf, pos, end):
        """The oplog's documents, each decoded and reduced to the kept databases' operations."""
        import bson

        while end - pos >= 4:
            (length,) = _INT32.unpack_from(buf, pos)
            if length == TERMINATOR:
                pos += 4
                if self.segment_open:
                    self._emit(TERMINATOR_BYTES)
                self.state = "namespace"
                return pos, True
            if not MIN_DOCUMENT <= length <= MAX_DOCUMENT:
                raise BackupError(f"mongodump archive: an oplog entry of {length} bytes")
            if end - pos < length:
                break
            raw = bytes(buf[pos : pos + length])
            pos += length
            entry = decode_entry(raw)
            kept = keep_operation(entry, self.keep)
            if kept is None:
                self.oplog_dropped += 1
                continue
            data = raw if kept is entry else bson.encode(kept)
            if not self.segment_open:
                self._emit(self.pending_header)
                self.segment_open = True
            self._emit(data)
            self.oplog_crc = crc64(self.oplog_crc, data)
            self._entry(OPLOG)["documents"] += 1
        return pos, False

    def _emit(self, data):
        if self.out is not None:
            self.out.write(data)
            self.bytes_out += len(data)

    def _kept(self, namespace):
        if namespace == OPLOG or self.keep(namespace[0]):
            return True
        self.dropped.add(namespace)
        return False

    def _entry(self, namespace):
        entry = self.namespaces.get(namespace)
        if entry is None:
            entry = self.namespaces[namespace] = {"documents": 0, "indexes": [], "type": "collection", "eof": False}
        return entry

    def _flush(self, buf, start, stop):
        if self.out is not None and stop > start:
            with memoryview(buf) as view:
                self.out.write(bytes(view[start:stop]))
            self.bytes_out += stop - start

    def flush(self):
        """Nothing held back but a partial document (compressors call this)."""

    def close(self):
        """Checks that the archive ended where it may (between segments, nothing left over)."""
        if self.state != "namespace" or self.buffer:
            raise BackupError(
                f"the mongodump archive ended early (in its {self.state}, {len(self.buffer)} bytes left over)"
            )

    # -- what it held ------------------------------------------------------------------------
    def databases(self):
        """{db: {collection: {"documents": n, "indexes": [...]} (+ "type" if not a collection)}},
        the oplog left out (it is not a database)."""
        found = {}
        for (db, collection), entry in sorted(self.namespaces.items()):
            if (db, collection) == OPLOG:
                continue
            item = {"documents": entry["documents"], "indexes": entry["indexes"]}
            if entry["type"] != "collection":
                item["type"] = entry["type"]
                if entry["type"] == "view":
                    item["documents"] = None
            found.setdefault(db, {})[collection] = item
        return found

    def has_oplog(self):
        return OPLOG in self.namespaces

    def unfinished(self):
        """Namespaces whose documents arrived but whose EOF header never did."""
        return sorted(".".join(ns) for ns, entry in self.namespaces.items() if entry["documents"] and not entry["eof"])
