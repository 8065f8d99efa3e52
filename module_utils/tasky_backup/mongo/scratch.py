"""The restore drill's scratch databases: `<db>` is restored into `drill_<db>` on the same server.

Scratch databases never collide with real ones: each one the drill makes first gets a marker
collection naming the drill. A `drill_<db>` that exists without that marker is not the drill's:
the drill refuses to start, naming it, and touches nothing. One with the marker was left by a
drill that was killed (SIGKILL, a reboot): holding the engine's lock proves no drill is
running, so it is dropped first. They are dropped collection by collection (the built-in
`restore` role grants dropCollection, not dropDatabase; a database with no collection left is
gone), whatever happened, the marker last.
"""

import logging

from ..base.errors import BackupError, Ending

LOG = logging.getLogger(__name__)

DRILL_PREFIX = "drill_"
# In every scratch database the drill makes, first: the proof that the database is the drill's.
MARKER = "tasky_restore_drill"
# MongoDB database names are shorter than 64 bytes.
MAX_DATABASE_NAME = 63


def scratch_name(database):
    return f"{DRILL_PREFIX}{database}"


def check_names(targets):
    too_long = [db for db, target in targets.items() if len(target.encode()) > MAX_DATABASE_NAME]
    if too_long:
        raise BackupError(
            f"database name(s) {', '.join(too_long)} too long for a scratch name '{DRILL_PREFIX}<db>' "
            f"(MongoDB allows {MAX_DATABASE_NAME} bytes); nothing was restored"
        )


def claim(reader, writer, targets, run, claimed):
    """Makes each scratch database the drill's (a marker collection in it, before anything else),
    after checking that none of them is someone else's. A scratch database left by a killed drill
    (it has the marker) is dropped first. Appends each claimed name to `claimed` as it goes."""
    existing = set(reader.list_database_names())
    leftovers, foreign = [], []
    for target in sorted(set(targets.values()) & existing):
        (leftovers if MARKER in reader[target].list_collection_names() else foreign).append(target)
    if foreign:
        raise BackupError(
            f"database(s) {', '.join(foreign)} exist and were not made by a restore drill: the drill restores "
            f"into {DRILL_PREFIX}<db> and never touches a database it did not make; nothing was restored "
            "(rename or drop them)"
        )
    for target in leftovers:
        LOG.warning("dropping %s, left by an earlier restore drill that did not finish", target)
        problems = drop_database(reader, writer, target)
        if problems:
            raise BackupError(f"cannot drop {target}, left by an earlier drill: {'; '.join(problems)}")
    for target in sorted(set(targets.values())):
        claimed.append(target)  # before the insert: a half-made claim is still dropped
        writer[target][MARKER].insert_one({"_id": "drill", **run})


def ns_args(targets):
    """mongorestore namespace options: only the archive's databases, each into its scratch name."""
    args = []
    for db, target in sorted(targets.items()):
        args += [f"--nsInclude={ns_escape(db)}.*", f"--nsFrom={ns_escape(db)}.*", f"--nsTo={ns_escape(target)}.*"]
    return args


def ns_escape(name):
    """mongorestore namespace patterns take '*' as a wildcard and '\\' as its escape."""
    return name.replace("\\", "\\\\").replace("*", "\\*")


def read_restored(reader, targets):
    """{db: {collection: {"documents": n, "indexes": [...]}}} of the scratch databases, as the
    backup user reads them (views: {"type": "view"})."""
    found = {}
    for db, target in sorted(targets.items()):
        collections = {}
        for info in reader[target].list_collections():
            name = info["name"]
            if name == MARKER or name.startswith("system."):
                continue
            if info.get("type", "collection") != "collection":
                collections[name] = {"type": info["type"]}
                continue
            handle = reader[target][name]
            collections[name] = {
                "documents": handle.count_documents({}),
                "indexes": sorted(index["name"] for index in handle.list_indexes()),
            }
        found[db] = collections
    return found


def drop_scratch(reader, writer, claimed):
    """Drops every scratch database this drill claimed; returns what is left. Raises nothing
    but an ending signal that came meanwhile, once every database had its attempt."""
    problems, ending = [], None

    def attempt(target):
        try:
            return drop_database(reader, writer, target)
        except Exception as exc:  # noqa: BLE001 - every scratch database gets its attempt
            return [f"scratch database {target} could not be dropped: {type(exc).__name__}: {exc}"]

    for target in claimed:
        try:
            problems += attempt(target)
        except Ending as exc:  # production data must not stay in scratch: finish, then end
            ending = ending or exc
            problems += attempt(target)  # again, now that signals are ignored
    for problem in problems:
        LOG.error("restore drill: %s", problem)
    if claimed and not problems:
        LOG.info("dropped the scratch database(s) %s", ", ".join(claimed))
    if ending is not None:
        raise ending
    return problems


def drop_database(reader, writer, target):
    """Drops every collection of a scratch database, the marker last (so a drill killed half-way
    leaves a database still marked as the drill's). MongoDB removes a database whose last
    collection is dropped; a server that keeps it empty is asked to drop it (best-effort: the
    `restore` role has no dropDatabase, and MongoDB never needs it). Returns problems."""
    names = writer[target].list_collection_names()
    for name in sorted(names, key=lambda n: (n == MARKER, n.startswith("system."), n)):
        writer[target].drop_collection(name)
    if target in reader.list_database_names():
        try:
            writer.drop_database(target)
        except Exception as exc:  # noqa: BLE001 - reported below if the database is still there
            LOG.info("dropDatabase %s: %s", target, exc)
    if target in reader.list_database_names():
        left = reader[target].list_collection_names()
        return [f"scratch database {target} is still there after dropping its collections (left: {left})"]
    return []
