"""BENCHMARK DATA - realistic documents for bench/backup_throughput.py, loaded through a real server.

A todo app's documents (what tasky stores): short titles and longer notes drawn from a small
vocabulary, user ids, e-mail addresses, dates, scores, tags and a short history. Text-heavy like
real application data, so gzip has the work it has in production (ratio about 0.22 at level 6),
not the random bytes of a synthetic dump. Deterministic (seeded): every run loads the same bytes.

    python bench/todo_data.py --port 27696 --mib 1024     # load into database `bench` (as the setup user)

Loading is done once per size: a marker document (bench_meta) records what was loaded, and a
later run with the same size and generator version reuses it.
"""

import argparse
import datetime
import os
import random
import sys
import time

GENERATOR = 1
DATABASE = "bench"
VOCABULARY = (
    "task buy milk call mom finish report review pull request deploy fix bug meeting notes project deadline "
    "urgent later someday garden groceries invoice email reply schedule dentist update documentation refactor "
    "tests release backup database server kubernetes cluster"
).split()
BASE = datetime.datetime(2024, 1, 1)


def documents(rng):
    """An endless stream of todo documents."""

    def sentence(n):
        return " ".join(rng.choice(VOCABULARY) for _ in range(n))

    while True:
        yield {
            "name": sentence(rng.randint(3, 12)),
            "completed": rng.random() < 0.4,
            "userid": f"user-{rng.randint(1, 5000)}",
            "priority": rng.randint(1, 5),
            "created": BASE + datetime.timedelta(seconds=rng.randint(0, 30_000_000)),
            "notes": sentence(rng.randint(10, 120)),
            "tags": [rng.choice(VOCABULARY) for _ in range(rng.randint(0, 5))],
            "email": f"person{rng.randint(1, 99999)}@example.com",
            "score": rng.random() * 100,
            "history": [
                {
                    "at": BASE + datetime.timedelta(seconds=rng.randint(0, 30_000_000)),
                    "by": f"user-{rng.randint(1, 5000)}",
                    "change": sentence(4),
                }
                for _ in range(rng.randint(0, 4))
            ],
        }


def load(client, mib, batch=1000):
    """Loads about `mib` MiB of BSON into bench.todos (and a small bench.users) unless that is
    what the database already holds; returns (seconds spent loading, or None when reused; BSON bytes)."""
    import bson

    db = client[DATABASE]
    marker = db.bench_meta.find_one({"_id": "loaded"})
    if marker and marker.get("mib") == mib and marker.get("generator") == GENERATOR:
        return None, marker["bytes"]
    client.drop_database(DATABASE)
    rng = random.Random(7)  # noqa: S311 - test data, not security
    target, written, started = mib << 20, 0, time.monotonic()
    stream = documents(rng)
    next_report = started + 10
    while written < target:
        docs = [next(stream) for _ in range(batch)]
        written += sum(len(bson.encode(d)) for d in docs)
        db.todos.insert_many(docs, ordered=False)
        if time.monotonic() > next_report:
            rate = written / (time.monotonic() - started) / (1 << 20)
            print(f"loading: {written >> 20} of {mib} MiB, {rate:.1f} MiB/s", file=sys.stderr, flush=True)
            next_report += 10
    db.todos.create_index("userid")
    db.users.insert_many([{"_id": f"user-{i}", "email": f"person{i}@example.com"} for i in range(1, 5001)])
    seconds = time.monotonic() - started
    marker = {"_id": "loaded", "mib": mib, "generator": GENERATOR, "bytes": written, "seconds": seconds}
    db.bench_meta.insert_one(marker)
    return seconds, written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("LAB_FERRETDB_PORT", "27696")))
    parser.add_argument("--mib", type=int, default=int(os.environ.get("BENCH_SIZE_MIB", "1024")))
    args = parser.parse_args()
    import pymongo

    client = pymongo.MongoClient(
        host="127.0.0.1",
        port=args.port,
        username=os.environ.get("LAB_FERRETDB_SETUP_USER", "lab-setup"),
        password=os.environ.get("LAB_FERRETDB_SETUP_PASSWORD", "tasky-lab-ferretdb-setup-throwaway"),
        directConnection=True,
    )
    seconds, size = load(client, args.mib)
    if seconds is None:
        print(f"reusing {size >> 20} MiB already loaded in {DATABASE}")
    else:
        print(f"loaded {size >> 20} MiB in {seconds:.0f} s ({size / seconds / (1 << 20):.1f} MiB/s)")


if __name__ == "__main__":
    main()
