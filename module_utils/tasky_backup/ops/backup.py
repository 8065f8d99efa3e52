"""One backup run: lock, clear leftovers, ask the server, dump in the configured format, stream
it into one verified upload, copy it to daily and latest; a failure takes back every write."""

import dataclasses
import hashlib
import logging
import socket
import time

from ..base.clock import utc_now, utc_now_text
from ..base.errors import BackupError
from ..base.files import remove_leftovers
from ..base.lock import Lock
from ..base.progress import Progress
from ..base.results import Result
from ..base.settings import encrypted, public_host_name
from ..base.signatures import sign
from ..base.state import read_state
from ..formats.age import AgeWriter, parse_recipients
from ..formats.gzip import compress_threads
from ..formats.registry import named
from ..mongo.server import ask_server
from ..s3.client import s3_client
from ..s3.keys import backup_key_of, created_of, latest_key, latest_keys, names_for, public_url
from ..s3.manifest import (
    Manifest,
    chain_link,
    list_keys,
    manifest_key,
    shrink_refusal,
    signature_key,
    trusted_manifest,
)
from ..s3.meta import ObjectMeta
from ..s3.multipart import part_size_for, upload_verified
from ..s3.objects import lock_versions, retire, server_side_copy, set_retention, source_of
from ..s3.rollback import Rollback

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class BackupResult(Result):
    name: str
    format: str
    key: str
    keys: list  # the timestamped backup, its daily and latest copies
    urls: list  # public URLs of the backup and of latest
    bucket: str
    databases: list
    size: int
    sha256: str
    dump_bytes: int
    host: str
    duration_s: float
    finished_at: str
    progress: list  # the progress lines logged
    users_key: str = None
    catalogue: str = None  # the catalogue page's URL, once written (ops/catalogue.py)
    catalogue_error: str = None
    facts: dict = None  # what the dump held (in its manifest too)
    encrypted_to: list = None  # the age recipients; empty: plaintext
    manifest: str = None  # the key of its signed manifest
    status: str = "success"

    OPTIONAL = ("users_key", "catalogue", "catalogue_error", "manifest")
    HIDDEN = ("facts",)


@dataclasses.dataclass
class Skipped(Result):
    """A replica set member that is not the one chosen to back up."""

    reason: str
    host: str
    finished_at: str
    status: str = "skipped"


class NotPromoted(BackupError):
    """A backup kept as taken, with its manifest, but not made daily and latest: it shrank too
    much against latest, or its dump was found damaged."""


def check_bucket(settings, client):
    try:
        client.head_bucket(Bucket=settings.bucket)
    except Exception as exc:  # noqa: BLE001 - any failure here means: do not start
        raise BackupError(f"S3 bucket {settings.bucket} is not reachable: {exc}") from None


def lock_written(run):
    """Object Lock (object_lock_days) on every version the run wrote, once all are verified."""
    settings, versions = run.settings, run.rollback.versions
    if any(version is None for _key, version in versions):
        raise BackupError("object_lock_days is set, but the bucket keeps no versions: nothing can be locked")
    lock_versions(
        run.client,
        settings.bucket,
        versions,
        settings.object_lock_mode,
        settings.object_lock_days,
        settings.s3_patience_s,
    )


def check_writer(settings, client, latest, alias, accept_other_writer):
    """Who this run writes as ("replica set NAME", else the host's alias); refuses, before any
    work, to replace a latest that another host wrote (not a member of this one's replica set):
    two hosts on one prefix would take turns overwriting it."""
    writer = f"replica set {settings.replica_set}" if settings.replica_set else alias
    try:
        found = ObjectMeta.from_s3(client.head_object(Bucket=settings.bucket, Key=latest).get("Metadata")).writer
    except client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return writer  # no latest yet
        raise BackupError(f"cannot read who wrote {latest}: {exc}") from None  # never skip the guard
    if not found or found == writer:  # a latest from before writers were recorded, or ours
        return writer
    if accept_other_writer:
        LOG.warning("accept_other_writer: replacing %s, written by %s, as %s", latest, found, writer)
        return writer
    raise BackupError(
        f"{latest} was written by {found}, not by this host ({writer}): two hosts backing up to one "
        "prefix overwrite each other's latest and daily. Give each its own prefix, or, for this host "
        "rebuilt under a new alias, run once with accept_other_writer=true"
    )


def take_backup(settings, now=None, client=None, accept_shrink=False, accept_other_writer=False):
    """One whole backup run under the lock: a BackupResult, or Skipped; raises BackupError
    (NotPromoted when the backup is kept but not made latest)."""
    with Lock(settings.lock_file):
        remove_leftovers(settings.work_dir)
        client = client or s3_client(settings)
        return _take_backup(settings, now or utc_now(), client, accept_shrink, accept_other_writer)


def _take_backup(settings, now, client, accept_shrink, accept_other_writer):
    started = time.monotonic()
    fmt = named(settings.format)
    recipients = parse_recipients(settings.age_recipients) if encrypted(settings) else None  # bad keys: refused now
    names = names_for(settings.prefix, now, fmt.name, encrypted(settings))
    host, alias = socket.gethostname(), public_host_name(settings)
    LOG.info(
        "backup %s started on %s as %s (format %s%s)", names.name, host, alias, fmt.name, ", age" if recipients else ""
    )
    if settings.public_plaintext and not recipients:
        LOG.warning("public_plaintext: this backup is published UNENCRYPTED; anyone who knows the bucket can read it")
    check_bucket(settings, client)
    writer = check_writer(settings, client, names.latest_key, alias, accept_other_writer)
    answer = ask_server(settings)
    if not answer.chosen:
        LOG.info("skipped: %s", answer.reason)
        return Skipped(answer.reason, host, utc_now_text())
    LOG.info("%s; databases: %s", answer.reason, ", ".join(answer.databases) or "(none)")
    if not answer.databases and not settings.oplog:
        raise BackupError("there is no database to back up (databases is empty and the server has none)")
    sign(settings.ssh_keygen_path, settings.signing_key, b"tasky-backup: can this host sign?")  # before any work
    baseline, chain = before_this_run(settings, client)
    deployment = settings.deployment or alias
    meta = ObjectMeta(name=names.name, format=fmt.name, deployment=deployment, host=alias, writer=writer)
    LOG.info("compressing on %d thread(s), gzip level %d", compress_threads(settings), settings.compress_level)
    run = Run(settings, client, names, meta, recipients, Rollback(client, settings.bucket, settings.s3_patience_s))
    with fmt.dumped(settings, names, answer, host) as dump:
        try:
            uploaded, lines, manifest = store(run, dump, baseline, chain, accept_shrink)
            users_key = store_users(run, dump) if settings.users_prefix else None
            if settings.object_lock_days:
                lock_written(run)
        except NotPromoted:
            raise
        except BaseException:
            run.rollback.undo()
            raise
    retire_other_latests(settings, client, names.latest_key)
    if baseline is not None and baseline.key != names.key:
        retire_manifest(settings, client, baseline.key)
    return BackupResult(
        name=names.name,
        format=fmt.name,
        key=names.key,
        keys=[names.key, names.daily_key, names.latest_key],
        urls=[public_url(settings, k) for k in (names.key, names.latest_key)],
        bucket=settings.bucket,
        databases=list(answer.databases),
        size=uploaded.size,
        sha256=uploaded.sha256,
        dump_bytes=dump.dump_bytes,
        host=host,  # the result is private (the state file, the module): the real name
        duration_s=round(time.monotonic() - started, 3),
        finished_at=utc_now_text(),
        progress=[*dump.progress_lines, *lines],
        users_key=users_key,
        facts=dump.facts,
        encrypted_to=[public_key(r) for r in settings.age_recipients],
        manifest=manifest.key + ".json",
    )


@dataclasses.dataclass
class Run:
    """What one backup run writes with: where, under which names, with which metadata, encrypted
    to whom, and what it wrote so far (to take back should it fail)."""

    settings: object
    client: object
    names: object  # BackupNames
    meta: ObjectMeta
    recipients: list  # pyrage recipients, or None: plaintext
    rollback: Rollback


def store(run, dump, baseline, chain, accept_shrink):
    """The backup uploaded and verified, its manifest signed and written, then (unless it shrank
    or its dump is damaged, and that is not accepted) its daily and latest copies: (Uploaded,
    progress lines, Manifest)."""
    settings, names = run.settings, run.names
    uploaded, lines = upload_dump(settings, run.client, names.key, dump, run.meta, run.rollback, run.recipients)
    manifest = manifest_of(settings, names, uploaded, dump, run.meta, chain)
    write_manifest(settings, run.client, manifest, run.rollback)
    refusal = shrink_refusal(baseline, manifest, settings.shrink_alarm_percent)
    if refusal and not accept_shrink:
        run.rollback.versions.clear()  # the backup and its manifest stay, as evidence
        raise NotPromoted(
            f"{names.key} is kept but not made latest: {refusal}; latest still holds the last good backup "
            "(accept_shrink=true takes a backup that is made latest anyway)"
        )
    if refusal:
        LOG.warning("accept_shrink: made latest although %s", refusal)
    publish(settings, run.client, uploaded, names, run.rollback)
    # latest never expires, so neither may the manifest that vouches for it.
    for key, version in list(run.rollback.versions):
        if key in (manifest_key(names.key), signature_key(names.key)):
            set_retention(run.client, settings.bucket, key, version, False, settings.s3_patience_s)
    return uploaded, lines, manifest


def store_users(run, dump):
    """Users and roles (admin) in their own archive under the private users_prefix, encrypted
    like the backup, with a manifest of its own; returns its key."""
    settings = run.settings
    key = run.names.users_key(settings.users_prefix)
    users = dump.users()
    uploaded, _lines = upload_dump(settings, run.client, key, users, run.meta, run.rollback, run.recipients)
    manifest = manifest_of(settings, run.names, uploaded, users, run.meta, None)
    write_manifest(settings, run.client, dataclasses.replace(manifest, key=key, oplog=False), run.rollback)
    LOG.info("users and roles in s3://%s/%s (private)", settings.bucket, key)
    return key


def before_this_run(settings, client):
    """(the trusted manifest of the backup latest holds now, or None; the chain link to the
    newest backup's manifest): what the shrink check and the new manifest compare with. The
    backup latest holds is this host's own last good one (the state file, which only root here
    writes), else what latest's metadata names; nothing found there is fatal."""
    listing = list_keys(settings, client)
    baseline = None
    try:
        key = (read_state(settings).get("last_success") or {}).get("key")
        if not key and latest_key(settings) in listing:
            head = client.head_object(Bucket=settings.bucket, Key=latest_key(settings))
            key = backup_key_of(settings, latest_key(settings), ObjectMeta.from_s3(head.get("Metadata")))
        if key:
            baseline = trusted_manifest(settings, client, key, allow_unsigned=True)
    except Exception as exc:  # noqa: BLE001 - a backup is never stopped by what is beside it
        LOG.warning("the shrink check has nothing to compare with: %s", exc)
    return baseline, chain_link(settings, client, listing)


def public_key(recipient):
    """A recipient as it may be published: an SSH key without its comment (user@laptop)."""
    return " ".join(recipient.split()[:2]) if recipient.startswith("ssh-") else recipient.strip()


def manifest_of(settings, names, uploaded, dump, meta, chain):
    facts = dump.facts or {}
    return Manifest(
        key=names.key,
        name=names.name,
        created=created_of(f"{names.name}.tar.gz"),
        backup_format=meta.format,
        size=uploaded.size,
        sha256=uploaded.sha256,
        encrypted_to=[public_key(r) for r in settings.age_recipients],
        host=meta.host,
        deployment=meta.deployment,
        dump_bytes=dump.dump_bytes,
        oplog=bool(settings.oplog),
        databases=facts.get("databases") or {},
        tools=facts.get("tools") or {},
        problems=facts.get("problems") or [],
        previous=chain,
    )


def write_manifest(settings, client, manifest, rollback):
    """Signs the manifest with the host's key and writes it and its signature next to the backup,
    tagged to expire with it; returns the sha256 of the manifest's bytes (what the next one
    chains to)."""
    raw = manifest.to_bytes()
    signature = sign(settings.ssh_keygen_path, settings.signing_key, raw)
    for key, body, content_type in (
        (manifest_key(manifest.key), raw, "application/json"),
        (signature_key(manifest.key), signature, "text/plain"),
    ):
        answer = client.put_object(Bucket=settings.bucket, Key=key, Body=body, ContentType=content_type)
        version = answer.get("VersionId")
        rollback.add(key, version if version and version != "null" else None)
        set_retention(client, settings.bucket, key, version, True, settings.s3_patience_s)
    LOG.info("wrote the signed manifest of %s (%s)", manifest.key, manifest_key(manifest.key))
    return hashlib.sha256(raw).hexdigest()


def upload_dump(settings, client, key, dump, meta, rollback, recipients=None):
    """A format's Dump streamed into one verified object (age-encrypted to recipients, if any);
    returns (Uploaded, progress lines). The part size follows the dump's size (the server's
    estimate in the archive format: parts grow should the dump outrun it)."""
    part_size = part_size_for(dump.total, settings.part_size_mib)
    meta = meta.but(dump_bytes=dump.dump_bytes)

    def produce(writer):
        out = AgeWriter(writer, recipients) if recipients else writer
        try:
            dump.write(out, progress)
        except BaseException:
            if recipients:
                out.halt()
            raise
        if recipients:
            out.finish()
        return meta.but(dump_bytes=dump.dump_bytes)  # the archive format knows it once written

    with Progress(dump.phase, dump.total, dump.estimated, settings.progress_log_s) as progress:
        uploaded = upload_verified(settings, client, key, part_size, meta, rollback, produce, progress)
    return uploaded, progress.lines


def publish(settings, client, uploaded, names, rollback):
    """daily-YYYY-MM-DD (expires with the lifecycle) and latest (never expires) by server-side
    copy of the verified version of the object (not whatever is current by then): one upload
    per backup."""
    bucket, patience = settings.bucket, settings.s3_patience_s
    source = source_of(bucket, uploaded.key, uploaded.version)
    for target, expires in ((names.daily_key, True), (names.latest_key, False)):
        copied = server_side_copy(client, bucket, source, target, uploaded.meta, patience, expires, uploaded.size)
        rollback.add(target, copied)
        set_retention(client, bucket, target, copied, expires, patience)
        LOG.info("copied to s3://%s/%s", bucket, target)


def retire_manifest(settings, client, key):
    """The manifest of the backup latest held before now expires with that backup. Best-effort."""
    for each in (manifest_key(key), signature_key(key)):
        try:
            retire(client, settings.bucket, each, settings.s3_patience_s)
        except Exception as exc:  # noqa: BLE001 - best-effort by design
            LOG.warning("could not tag %s to expire: %s", each, exc)


def retire_other_latests(settings, client, current):
    """An earlier format's (or the plaintext) latest now expires with the lifecycle: a switch
    leaves nothing public forever. Best-effort: the backup is good already."""
    for key in latest_keys(settings):
        if key == current:
            continue
        try:
            if retire(client, settings.bucket, key, settings.s3_patience_s):
                LOG.info("%s (an earlier format's latest) now expires with the lifecycle", key)
        except Exception as exc:  # noqa: BLE001 - best-effort by design
            LOG.warning("could not tag %s to expire: %s", key, exc)
