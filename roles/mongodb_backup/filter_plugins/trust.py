"""Filters of the mongodb_backup role's trust settings (tasks/keys.yml).

allowed_signers(hosts, hostvars): the allowed_signers file (OpenSSH's, `ssh-keygen -Y verify
-f`) of the hosts: one line per host that has a signing key, read from it in this run
(mongodb_backup_signing_key_read) or pinned in the inventory (mongodb_backup_signing_public_key),
under its public alias, for the namespace tasky-backup only.
"""

import hashlib
import re

from ansible.errors import AnsibleFilterError

NAMESPACE = "tasky-backup"
KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]+( .*)?$")


def default_alias(host):
    """The role's default mongodb_backup_host_alias: nothing of the host's own name shows."""
    return "db-" + hashlib.sha256(str(host).encode()).hexdigest()[:8]


def allowed_signers(hosts, hostvars):
    lines, aliases = [], {}
    for host in sorted(hosts):
        found = hostvars[host]
        key = found.get("mongodb_backup_signing_key_read") or found.get("mongodb_backup_signing_public_key") or ""
        if not key:
            continue
        key = " ".join(str(key).split()[:2])  # type and key; the comment is the alias's business
        if not KEY.match(key):
            raise AnsibleFilterError(f"the signing key of {host} is not an SSH public key: {key!r}")
        alias = str(found.get("mongodb_backup_host_alias") or default_alias(host))
        if alias in aliases:
            raise AnsibleFilterError(f"mongodb_backup_host_alias '{alias}' is used by both {aliases[alias]} and {host}")
        aliases[alias] = host
        lines.append(f'{alias} namespaces="{NAMESPACE}" {key}')
    return "".join(line + "\n" for line in lines)


class FilterModule:
    def filters(self):
        return {"tasky_allowed_signers": allowed_signers}
