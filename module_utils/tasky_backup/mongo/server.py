"""Questions the engine asks the MongoDB server (pymongo): which databases there are, how big
they are, whether this member backs up, whether it takes writes (the drill)."""

import dataclasses
import json

from ..base.errors import BackupError
from ..base.files import read_secret
from ..base.settings import PRIVATE_DATABASES


def credentials_password(path):
    """The password in the mongodump --config file (YAML `password: ...`; the role writes it
    JSON-quoted). The file must be readable by its owner only: it holds a secret."""
    text = read_secret(path, "credentials file")
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() == "password":
            return yaml_scalar(value.strip())
    raise BackupError(f"the credentials file {path} has no password line")


def yaml_scalar(value):
    if value[:1] == '"':
        return json.loads(value)
    if value[:1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def connect(settings, user=None, password=None):
    """A pymongo client of the configured server, as the backup user unless told otherwise."""
    try:
        import pymongo
    except ImportError:
        raise BackupError("pymongo is not installed (the mongodb_backup role installs it)") from None
    return pymongo.MongoClient(
        host=settings.mongodb_host,
        port=settings.mongodb_port,
        username=user or settings.mongodb_user,
        password=password if password is not None else credentials_password(settings.mongodump_config),
        authSource=settings.mongodb_auth_db,
        directConnection=True,
        serverSelectionTimeoutMS=15000,
        connectTimeoutMS=15000,
        socketTimeoutMS=600000,
    )


def databases_to_dump(settings, present):
    """The configured databases, or every database but admin, config and local. A configured
    database the server does not have (dropped, renamed, never written) fails the run: a
    backup without it would replace latest with one that lacks the data."""
    if settings.databases:
        missing = [name for name in settings.databases if name not in present]
        if missing:
            raise BackupError(
                f"the database(s) {', '.join(missing)} named in databases do not exist on the server: "
                "nothing was backed up, latest still holds the last good backup"
            )
        return list(settings.databases)
    found = sorted(name for name in present if name not in PRIVATE_DATABASES)
    if not found:
        raise BackupError("the server holds no database to back up (admin, config and local are never published)")
    return found


def databases_dumped(settings, databases, present):
    """What mongodump reads, and the tar.gz format writes to disk: with oplog the whole server
    but local (the oplog needs a whole-server dump; the rest is left out of the archive later),
    as in the archive format with more than one database (mongo/tools.py, mongodump_archive_command);
    else the databases backed up."""
    whole = settings.oplog or (settings.format == "archive" and len(databases) > 1)
    return sorted(name for name in present if name != "local") if whole else databases


def data_bytes(client, databases):
    """What a dump of these databases writes, about: the sum of their dbStats dataSize."""
    return sum(int(client[name].command("dbStats").get("dataSize", 0)) for name in databases)


MAX_LAG_S = 60  # a secondary further behind its primary than this does not back up


def choose_member(status, replica_config=None):
    """Which replica set member backs up (host:port): a healthy secondary that is neither
    delayed (secondaryDelaySecs, whose data is hours old by design) nor more than a minute behind
    the primary, hidden ones first, then by name, so every member agrees without talking; the
    primary when there is no such secondary."""
    members = status.get("members", [])
    configured = {m.get("host"): m for m in (replica_config or {}).get("members", [])}
    primary = next((m for m in members if m.get("stateStr") == "PRIMARY"), None)

    def fit(member):
        conf = configured.get(member["name"], {})
        if member.get("health") != 1 or member.get("stateStr") != "SECONDARY":
            return False
        if conf.get("secondaryDelaySecs", conf.get("slaveDelay", 0)):
            return False
        if primary and "optimeDate" in member and "optimeDate" in primary:
            return (primary["optimeDate"] - member["optimeDate"]).total_seconds() <= MAX_LAG_S
        return True

    candidates = sorted((not configured.get(m["name"], {}).get("hidden", False), m["name"]) for m in members if fit(m))
    if candidates:
        return candidates[0][1]
    return primary["name"] if primary else ""


def member_decision(client):
    """(back_up, reason): standalone servers always back up; of a replica set, one member."""
    hello = client.admin.command("hello")
    if not hello.get("setName"):
        return True, "standalone server"
    status = client.admin.command("replSetGetStatus")
    replica_config = client.admin.command("replSetGetConfig")["config"]
    chosen = choose_member(status, replica_config)
    me = hello.get("me", "")
    if me == chosen:
        return True, f"chosen member {me} of replica set {hello['setName']}"
    return False, f"not the chosen member: {chosen} backs up replica set {hello['setName']}, this is {me}"


@dataclasses.dataclass(frozen=True)
class ServerAnswer:
    """What a run needs to know before it dumps."""

    chosen: bool  # whether this member backs up
    reason: str
    databases: tuple = ()  # what the archive publishes
    estimate: int = 0  # bytes of what mongodump will read, about (dbStats dataSize)


def ask_server(settings):
    """Whether this member backs up, which databases and how big; a server that refuses the
    backup user or does not answer fails the run here, clearly."""
    from pymongo.errors import PyMongoError

    where = f"{settings.mongodb_host}:{settings.mongodb_port}"
    try:
        with connect(settings) as client:
            chosen, reason = member_decision(client)
            if not chosen:
                return ServerAnswer(False, reason)
            present = client.list_database_names()
            databases = databases_to_dump(settings, present)
            estimate = data_bytes(client, databases_dumped(settings, databases, present))
            return ServerAnswer(True, reason, tuple(databases), estimate)
    except PyMongoError as exc:
        raise BackupError(f"MongoDB at {where} (user {settings.mongodb_user}): {exc}") from None


def writable_here(client):
    """(True, why) on a standalone server or a primary; a secondary cannot take the writes."""
    hello = client.admin.command("hello")
    if not hello.get("setName"):
        return True, "standalone server"
    if hello.get("isWritablePrimary") or hello.get("ismaster"):
        return True, f"primary of replica set {hello['setName']}"
    return False, (
        f"{hello.get('me', 'this member')} is not the primary of replica set {hello['setName']}: "
        f"the drill restores on the primary ({hello.get('primary', 'unknown')})"
    )
