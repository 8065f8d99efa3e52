"""Filters of the mongodb_backup role's trust settings (tasks/keys.yml).

allowed_signers(hosts, hostvars, scope, retired): the allowed_signers file (OpenSSH's,
`ssh-keygen -Y verify -f`) of the hosts that write the bucket and prefix `scope`: one line per
host, under its public alias, for the namespace tasky-backup only, with the key read from it in
this run or pinned in the inventory (mongodb_backup_signing_public_key); then the retired hosts,
each trusted through its `until` day (valid-before, enforced by ssh-keygen when it verifies).
"""

import datetime
import re

from ansible.errors import AnsibleFilterError

NAMESPACE = "tasky-backup"
KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$")
ALIAS = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _key(text, what):
    key = " ".join(str(text).split()[:2])  # type and key; the comment is the alias's business
    if not KEY.match(key):
        raise AnsibleFilterError(f"{what} is not an SSH public key: {key!r}")
    return key


def _signer(host, found, scope):
    """(alias, key) of a host that signs for scope, None for one that writes elsewhere."""
    if "mongodb_backup_signer_scope" in found:  # in this run: its own facts
        if found["mongodb_backup_signer_scope"] != scope:
            return None
        key = found.get("mongodb_backup_signing_key_read") or found.get("mongodb_backup_signing_public_key")
        alias = found.get("mongodb_backup_alias")
    else:  # not in this run (--limit, or unreachable): only what the inventory says of it
        bucket, prefix = found.get("mongodb_backup_bucket"), found.get("mongodb_backup_prefix")
        if bucket and prefix is not None and f"{bucket}/{prefix}" != scope:
            return None  # the inventory has it write elsewhere
        key, alias = found.get("mongodb_backup_signing_public_key"), found.get("mongodb_backup_host_alias")
        if not key or not alias:
            raise AnsibleFilterError(
                f"{host} is not in this run (left out by --limit, or unreachable) and the inventory pins"
                " no mongodb_backup_signing_public_key and mongodb_backup_host_alias for it: allowed_signers"
                " would lose it and its backups would stop verifying. Pin both (its"
                " /etc/mongodb-backup/signing-key.pub and host-alias), or run it too."
            )
    if not key:  # check mode on a new host: no key yet
        return None
    alias = str(alias)
    if not ALIAS.match(alias):  # it becomes an ssh-keygen principal pattern: no * ? , or spaces
        raise AnsibleFilterError(f"the alias of {host}, {alias!r}, is not 1 to 64 of A-Z a-z 0-9 . _ -")
    return alias, _key(key, f"the signing key of {host}")


def allowed_signers(hosts, hostvars, scope, retired=()):
    """The file's text; `retired`: [{alias, key, until: YYYY-MM-DD}] of hosts gone from the
    inventory, kept so their backups still verify until they expire."""
    lines, aliases = [], {}
    for host in sorted(hosts):
        signer = _signer(host, hostvars[host], scope)
        if signer is None:
            continue
        alias, key = signer
        if alias in aliases:
            raise AnsibleFilterError(f"mongodb_backup_host_alias '{alias}' is used by both {aliases[alias]} and {host}")
        aliases[alias] = host
        lines.append(f'{alias} namespaces="{NAMESPACE}" {key}')
    for entry in retired:
        if not isinstance(entry, dict) or not {"alias", "key", "until"} <= set(entry):
            raise AnsibleFilterError(f"mongodb_backup_retired_signers: {entry!r} is not {{alias, key, until}}")
        alias = str(entry["alias"])
        if not ALIAS.match(alias):
            raise AnsibleFilterError(f"mongodb_backup_retired_signers: alias {alias!r} is not a public alias")
        if alias in aliases:
            raise AnsibleFilterError(f"mongodb_backup_retired_signers: '{alias}' is the alias of {aliases[alias]}")
        key = _key(entry["key"], f"mongodb_backup_retired_signers: the key of {alias}")
        try:
            until = datetime.date.fromisoformat(str(entry["until"]))
        except ValueError:
            raise AnsibleFilterError(
                f"mongodb_backup_retired_signers: until {entry['until']!r} of {alias} is not YYYY-MM-DD"
            ) from None
        # valid-before is exclusive: the key counts through the whole of `until`.
        before = (until + datetime.timedelta(days=1)).strftime("%Y%m%d")
        lines.append(f'{alias} namespaces="{NAMESPACE}",valid-before="{before}" {key}')
    return "".join(line + "\n" for line in lines)


class FilterModule:
    def filters(self):
        return {"tasky_allowed_signers": allowed_signers}
