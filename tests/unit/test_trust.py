"""The trust pieces on their own: the age layer (formats/age.py: pyrage through a pipe, both
ways), the manifest (s3/manifest.py: its bytes, its checks, the shrink gate), SSH signatures
(base/signatures.py, with the machine's stock ssh-keygen), the role's allowed_signers filter,
and the settings that refuse plaintext on a public prefix. No lab, no network."""

import dataclasses
import importlib.util
import io
import os
import subprocess
from pathlib import Path

import pytest
from pyrage import x25519
from tasky_backup.base.errors import BackupError
from tasky_backup.base.settings import check_settings, public_host_name
from tasky_backup.base.signatures import UntrustedSignature, sign, verify
from tasky_backup.formats.age import AgeReader, AgeWriter, Pipe, parse_recipients, read_identities
from tasky_backup.s3.keys import format_of, is_encrypted, kind_of, latest_key, names_for
from tasky_backup.s3.manifest import Manifest, shrink_refusal

ROOT = Path(__file__).resolve().parents[2]


class Sink:
    def __init__(self):
        self.data = bytearray()

    def write(self, data):
        self.data += data
        return len(data)

    def flush(self):
        pass


def test_age_round_trip_through_the_writer_and_the_reader():
    identity = x25519.Identity.generate()
    sink, data = Sink(), os.urandom(3 << 20) + b"tail"
    writer = AgeWriter(sink, parse_recipients([str(identity.to_public())]))
    for start in range(0, len(data), 100_003):
        writer.write(data[start : start + 100_003])
    writer.finish()
    assert bytes(sink.data).startswith(b"age-encryption.org/v1\n") and data[:64] not in sink.data
    reader = AgeReader(io.BytesIO(bytes(sink.data)), [identity])
    back = b"".join(iter(lambda: reader.read(65536), b""))
    assert back == data


def test_a_flipped_byte_or_another_identity_fails_to_decrypt():
    identity, other = x25519.Identity.generate(), x25519.Identity.generate()
    sink = Sink()
    writer = AgeWriter(sink, parse_recipients([str(identity.to_public())]))
    writer.write(b"x" * 200_000)
    writer.finish()
    flipped = bytearray(sink.data)
    flipped[-100] ^= 1
    for source, identities in ((bytes(flipped), [identity]), (bytes(sink.data), [other])):
        reader = AgeReader(io.BytesIO(source), identities)
        with pytest.raises(BackupError, match="cannot be decrypted"):
            while reader.read(65536):
                pass


def test_the_pipe_hands_bytes_over_and_stops_both_sides_on_abort():
    pipe = Pipe(limit=10)
    pipe.put(b"abcdef")
    assert pipe.read(4) == b"abcd" and pipe.read() == b"ef"
    pipe.close()
    assert pipe.read() == b""
    broken = Pipe()
    broken.abort(BackupError("stopped"))
    with pytest.raises(BackupError, match="stopped"):
        broken.put(b"x")
    with pytest.raises(BackupError, match="stopped"):
        broken.read()


def test_bad_recipients_and_identity_files_are_named(tmp_path):
    with pytest.raises(BackupError, match="age_recipients: 'age1nope' is not an age or SSH public key"):
        parse_recipients(["age1nope"])
    secret = tmp_path / "identity.txt"
    secret.write_text("# comment\nAGE-SECRET-KEY-1NOTAKEY\n")
    secret.chmod(0o600)
    with pytest.raises(BackupError) as refused:
        read_identities(str(secret))
    assert "NOTAKEY" not in str(refused.value)  # a secret's text is never echoed
    secret.write_text(f"{x25519.Identity.generate()}\n")
    secret.chmod(0o644)
    with pytest.raises(BackupError, match="can be read by others; make it 0600"):
        read_identities(str(secret))


def test_encrypted_names_and_their_format():
    import datetime

    now = datetime.datetime(2026, 12, 3, 2, 0, tzinfo=datetime.timezone.utc)
    names = names_for("backups/", now, "tar.gz", encrypted=True)
    assert names.key == "backups/mongodb-backup-20261203-020000.tar.gz.age"
    assert names.latest_key == "backups/latest.tar.gz.age" and names.daily_key == "backups/daily-2026-12-03.tar.gz.age"
    archive = names_for("backups/", now, "archive", encrypted=True)
    assert archive.key.endswith(".archive.gz.age") and format_of(archive.key) == "archive"
    assert is_encrypted(names.key) and not is_encrypted("backups/latest.tar.gz")
    assert kind_of("backups/", names.key) == "backup" and kind_of("backups/", names.latest_key) == "alias"
    assert kind_of("backups/", names.key + ".json") is None and kind_of("backups/", names.key + ".json.sig") is None
    settings = check_settings(
        {"bucket": "tasky-backups", "age_recipients": [str(x25519.Identity.generate().to_public())]}
    )
    assert latest_key(settings) == "backups/latest.tar.gz.age"


def test_plaintext_on_a_public_prefix_is_refused_unless_on_purpose():
    with pytest.raises(BackupError, match="age_recipients is empty and the prefix is public"):
        check_settings({"bucket": "tasky-backups", "public": True})
    assert check_settings({"bucket": "tasky-backups", "public": True, "public_plaintext": True}).public_plaintext
    assert check_settings({"bucket": "tasky-backups", "public": True, "age_recipients": ["age1x"]}).public


def test_the_public_host_name_never_shows_the_internal_one():
    import socket

    settings = check_settings({"bucket": "tasky-backups"})
    assert public_host_name(settings).startswith("host-") and socket.gethostname() not in public_host_name(settings)
    assert public_host_name(settings.replace(host_alias="lab-db1")) == "lab-db1"
    with pytest.raises(BackupError, match="host_alias must be 1 to 64"):
        check_settings({"bucket": "tasky-backups", "host_alias": "db 1"})


def manifest(**changes):
    base = Manifest(
        key="backups/mongodb-backup-20261203-020000.tar.gz.age",
        name="mongodb-backup-20261203-020000",
        created="2026-12-03T02:00:00Z",
        backup_format="tar.gz",
        size=1000,
        sha256="ab" * 32,
        encrypted_to=["age1team"],
        host="lab-db1",
        deployment="rs0",
        dump_bytes=10_000,
        oplog=False,
        databases={"app": {"todos": {"documents": 100, "indexes": ["_id_"]}, "v": {"documents": None, "type": "view"}}},
        tools={"mongodump": "mongodump version: 100.11.0"},
        problems=[],
        previous={"key": "backups/mongodb-backup-20261202-020000.tar.gz.age", "manifest_sha256": "cd" * 32},
    )
    return dataclasses.replace(base, **changes)


def test_a_manifest_reads_back_what_it_wrote_and_refuses_what_it_did_not():
    written = manifest()
    raw = written.to_bytes()
    assert Manifest.from_bytes(raw, written.key) == written and raw == written.to_bytes()  # canonical
    assert written.documents() == 100
    for bad, said in (
        (b"not json", "is not JSON"),
        (b'{"format": 1, "databases": {}}', "is not one this engine writes"),
        (raw.replace(b'"format": 2', b'"format": 2, "extra": 1'), "is not one this engine writes"),
        (raw.replace(b'"todos": {', b'"todos": ["x"], "t2": {'), "is not one this engine writes"),
    ):
        with pytest.raises(BackupError, match=said):
            Manifest.from_bytes(bad, written.key)


@pytest.mark.parametrize(
    ("baseline", "new", "refused"),
    [
        (None, {}, None),
        ({}, {}, None),
        ({}, {"databases": {"app": {"todos": {"documents": 51}}}}, None),
        ({}, {"databases": {"app": {"todos": {"documents": 49}}}}, "its documents dropped 51%"),
        ({}, {"dump_bytes": 4_000}, "its dump bytes dropped 60%"),
        ({}, {"problems": ["app/todos.bson: document 3 at byte 90 claims 70 bytes"]}, "its dump is damaged"),
        (None, {"problems": ["a problem"]}, "its dump is damaged"),
    ],
)
def test_the_shrink_gate(baseline, new, refused):
    said = shrink_refusal(manifest(**baseline) if baseline is not None else None, manifest(**new), 50)
    assert (said is None) if refused is None else (refused in said), said


@pytest.fixture
def signer(tmp_path):
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'lab-db1 namespaces="tasky-backup" {(tmp_path / "signing-key.pub").read_text()}')
    return str(key), str(signers)


def test_a_signature_checks_out_for_its_host_only(signer, tmp_path):
    key, signers = signer
    data = manifest().to_bytes()
    signature = sign("ssh-keygen", key, data)
    verify("ssh-keygen", signers, "lab-db1", data, signature)
    with pytest.raises(UntrustedSignature, match="bad signature"):
        verify("ssh-keygen", signers, "lab-db1", data.replace(b"lab-db1", b"lab-db2"), signature)
    with pytest.raises(UntrustedSignature, match="not by lab-db2's, the host it names"):
        verify("ssh-keygen", signers, "lab-db2", data, signature)
    other = tmp_path / "other-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    with pytest.raises(UntrustedSignature, match="unknown signer"):
        verify("ssh-keygen", signers, "lab-db1", data, sign("ssh-keygen", str(other), data))
    with pytest.raises(BackupError, match="could not sign"):
        sign("ssh-keygen", str(tmp_path / "missing"), data)


def load_filter():
    spec = importlib.util.spec_from_file_location("trust", ROOT / "roles/mongodb_backup/filter_plugins/trust.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_run(key, alias, scope="bucket/backups/"):
    """A host's facts after tasks/keys.yml."""
    return {"mongodb_backup_signing_key_read": key, "mongodb_backup_alias": alias, "mongodb_backup_signer_scope": scope}


def test_the_roles_allowed_signers_lists_each_host_of_the_prefix_by_its_alias():
    trust = load_filter()
    hostvars = {
        "db1.internal": in_run("ssh-ed25519 AAAAone tasky-backup a", "a"),
        # not in this run (--limit): what the inventory pins
        "db2.internal": {"mongodb_backup_signing_public_key": "ssh-ed25519 AAAAtwo", "mongodb_backup_host_alias": "b"},
        "other.internal": in_run("ssh-ed25519 AAAAother", "c", scope="bucket/elsewhere/"),  # another deployment
        "new.internal": in_run("", "d"),  # check mode on a new host: no key yet
    }
    text = trust.allowed_signers(list(hostvars), hostvars, "bucket/backups/")
    assert text == 'a namespaces="tasky-backup" ssh-ed25519 AAAAone\nb namespaces="tasky-backup" ssh-ed25519 AAAAtwo\n'
    assert "internal" not in text
    assert "AAAAother" in trust.allowed_signers(list(hostvars), hostvars, "bucket/elsewhere/")
    hostvars["db2.internal"]["mongodb_backup_host_alias"] = "a"
    with pytest.raises(Exception, match="'a' is used by both"):
        trust.allowed_signers(list(hostvars), hostvars, "bucket/backups/")
    with pytest.raises(Exception, match="is not an SSH public key"):
        trust.allowed_signers(["x"], {"x": in_run("not a key", "x")}, "bucket/backups/")


def test_a_host_left_out_of_the_run_without_a_pinned_key_fails_the_run():
    trust = load_filter()
    hostvars = {"db1": in_run("ssh-ed25519 AAAAone", "a"), "db2": {"mongodb_backup_host_alias": "b"}}
    with pytest.raises(Exception, match=r"db2 is not in this run \(left out by --limit, or unreachable\)"):
        trust.allowed_signers(["db1", "db2"], hostvars, "bucket/backups/")
    # one the inventory has write another prefix is not this prefix's business
    hostvars["db2"].update(mongodb_backup_bucket="bucket", mongodb_backup_prefix="other/")
    assert trust.allowed_signers(["db1", "db2"], hostvars, "bucket/backups/").count("\n") == 1


@pytest.mark.parametrize("alias", ["*", "a,b", "db 1", ""])
def test_an_alias_that_is_no_plain_name_is_refused(alias):
    """allowed_signers' principals are patterns: `*` would let any name verify."""
    trust = load_filter()
    with pytest.raises(Exception, match="is not 1 to 64 of"):
        trust.allowed_signers(["db1"], {"db1": in_run("ssh-ed25519 AAAAone", alias)}, "bucket/backups/")


def test_retired_signers_stay_in_allowed_signers_until_their_day(tmp_path):
    trust = load_filter()
    hostvars = {"db1": in_run("ssh-ed25519 AAAAone", "a")}
    old = {"alias": "old-db", "key": "ssh-ed25519 AAAAold tasky-backup old-db", "until": "2026-11-30"}
    text = trust.allowed_signers(["db1"], hostvars, "bucket/backups/", [old])
    assert text.splitlines() == [
        'a namespaces="tasky-backup" ssh-ed25519 AAAAone',
        'old-db namespaces="tasky-backup",valid-before="20261201" ssh-ed25519 AAAAold',
    ]
    with pytest.raises(Exception, match=r"is not \{alias, key, until\}"):
        trust.allowed_signers(["db1"], hostvars, "bucket/backups/", ["old-db ssh-ed25519 AAAAold"])
    with pytest.raises(Exception, match="until 'soon' of old-db is not YYYY-MM-DD"):
        trust.allowed_signers(["db1"], hostvars, "bucket/backups/", [{**old, "until": "soon"}])
    with pytest.raises(Exception, match="'a' is the alias of db1"):
        trust.allowed_signers(["db1"], hostvars, "bucket/backups/", [{**old, "alias": "a"}])


@pytest.mark.parametrize(("until", "trusted"), [("2099-01-01", True), ("2020-01-01", False)])
def test_ssh_keygen_refuses_a_retired_key_past_its_day(tmp_path, until, trusted):
    """The valid-before the filter writes is what ssh-keygen enforces: past its day a retired
    host's key verifies nothing."""
    trust = load_filter()
    key = tmp_path / "old-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    entry = {"alias": "old-db", "key": (tmp_path / "old-key.pub").read_text(), "until": until}
    signers = tmp_path / "allowed_signers"
    signers.write_text(trust.allowed_signers([], {}, "bucket/backups/", [entry]))
    manifest = b'{"format": 2}'
    signature = sign("ssh-keygen", str(key), manifest)
    if trusted:
        verify("ssh-keygen", str(signers), "old-db", manifest, signature)
    else:
        with pytest.raises(UntrustedSignature):
            verify("ssh-keygen", str(signers), "old-db", manifest, signature)


def test_only_the_private_users_archive_brings_admin_back():
    from tasky_backup.formats.restore_into import excluded

    settings = check_settings({"bucket": "tasky-backups", "users_prefix": "private/users/"})
    public = excluded(settings, "backups/latest.tar.gz.age")
    assert public == ["--nsExclude=admin.*", "--nsExclude=config.*", "--nsExclude=local.*"]
    users = excluded(settings, "private/users/mongodb-backup-20261203-020000-users.tar.gz.age")
    assert users == ["--nsExclude=config.*", "--nsExclude=local.*"]
    assert excluded(settings.replace(users_prefix=""), "private/users/x.tar.gz") == public


def test_allow_unsigned_reaches_only_backups_named_and_stored_before_signing_began(settings_in):
    import datetime

    from tasky_backup.s3.manifest import unsigned_refusal

    settings = settings_in(users_prefix="private/")
    old, new = "backups/mongodb-backup-20240101-020000.tar.gz", "backups/mongodb-backup-20991231-020000.tar.gz"
    assert "signed_since is not set" in unsigned_refusal(settings, old)  # no cutoff: nothing accepted
    settings = settings.replace(signed_since="2026-01-01T00:00:00Z")
    stored_then = datetime.datetime(2024, 1, 1, 2, 0, 5, tzinfo=datetime.timezone.utc)
    stored_now = datetime.datetime(2026, 12, 3, 2, 0, 5, tzinfo=datetime.timezone.utc)
    assert unsigned_refusal(settings, old, stored_then) is None
    assert unsigned_refusal(settings, old) is None  # the shrink gate's baseline: by its name only
    assert "taken or stored after signing began" in unsigned_refusal(settings, new, stored_then)
    # a backdated name on an object written since: LastModified, which no writer chooses, says so
    assert "taken or stored after signing began" in unsigned_refusal(settings, old, stored_now)
    assert "only a timestamped backup" in unsigned_refusal(settings, "backups/latest.tar.gz", stored_then)
    assert "the users archive always has one" in unsigned_refusal(
        settings, "private/mongodb-backup-20240101-020000-users.tar.gz", stored_then
    )
    with pytest.raises(BackupError, match="signed_since must be a UTC time like"):
        settings.replace(signed_since="20261201")
