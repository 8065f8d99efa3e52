#!/usr/bin/env python3
"""BENCHMARK FIXTURE - a synthetic `mongodump`, not MongoDB's: used by bench/backup_throughput.py only.

Why it is not the real mongodump: the benchmark measures what happens after the dump (tar,
gzip, upload) on 1 to 3 GiB. Loading that much into the lab's FerretDB first would take minutes
per run and the dump would measure FerretDB's SQLite reads, not the pipeline. This script writes
$BENCH_DUMP_BYTES of real BSON in mongodump's directory layout (database bench, 16 KiB documents,
half random so incompressible, half text) wherever --out points, and accepts the flags the
backup engine passes. The tests use the real mongodump against a real server instead.
"""

import json
import os
import sys

import bson


def write_collection(out, db, name, docs):
    os.makedirs(os.path.join(out, db), exist_ok=True)
    with open(os.path.join(out, db, f"{name}.bson"), "wb") as handle:
        for doc in docs:
            handle.write(bson.encode(doc))
    meta = {"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}], "collectionName": name, "type": "collection"}
    with open(os.path.join(out, db, f"{name}.metadata.json"), "w", encoding="utf-8") as handle:
        json.dump(meta, handle)


def synthetic_dump(out, total):
    """About `total` bytes of 16 KiB documents, half random (incompressible) and half text."""
    os.makedirs(os.path.join(out, "bench"), exist_ok=True)
    text = " ".join(f"field{i}=value{i * 7919 % 1000}" for i in range(600)).encode()[: 8 << 10]
    written, i = 0, 0
    with open(os.path.join(out, "bench", "events.bson"), "wb") as handle:
        while written < total:
            doc = bson.encode({"_id": i, "payload": os.urandom(8 << 10), "text": text})
            handle.write(doc)
            written += len(doc)
            i += 1
    write_collection(out, "bench", "meta", [{"_id": 0, "events": i}])


def main(argv):
    opts = dict(arg[2:].partition("=")[::2] for arg in argv if arg.startswith("--"))
    if "password" in opts:
        sys.exit("synthetic mongodump: a password was passed in argv; it must come from --config")
    if not opts.get("out"):
        sys.exit("synthetic mongodump: --out is required")
    synthetic_dump(opts["out"], int(os.environ["BENCH_DUMP_BYTES"]))


if __name__ == "__main__":
    main(sys.argv[1:])
