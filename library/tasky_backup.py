#!/usr/bin/python
"""Ansible module tasky_backup: a thin layer over the engine, module_utils/tasky_backup/."""

DOCUMENTATION = r"""
---
module: tasky_backup
short_description: Take, list, catalogue, verify, restore or drill-restore MongoDB backups in S3
description:
  - Runs the tasky backup engine on a MongoDB host, the same code that the nightly cron job
    runs (C(/opt/mongodb-backup/backup.sh)).
  - With no options it reads the host's backup configuration (written by the
    C(mongodb_backup) role) and takes a backup, so C(ansible mongodb -b -m tasky_backup) works
    ad hoc.
  - A backup dumps the database with C(mongodump) (credentials from a root-only config file),
    streams a tar.gz into an S3 multipart upload of
    C(backups/mongodb-backup-YYYYMMDD-HHMMSS.tar.gz), verifies it, records its sha256 and size
    in the object metadata, writes its manifest signed with the host's SSH key
    (C(<backup key>.json), C(.json.sig)), then makes C(backups/daily-YYYY-MM-DD.tar.gz) and
    C(backups/latest.tar.gz) by server-side copy (unless it shrank past the configured
    C(shrink_alarm_percent), or its dump was found damaged, in which case it stays as taken
    and the run fails, see O(accept_shrink)).
  - With age recipients configured (role variable C(mongodb_backup_age_recipients)), what is
    stored is age-encrypted as it streams and every name ends in C(.age)
    (C(backups/latest.tar.gz.age)); the team decrypts with C(age -d -i key.txt).
  - With the configuration's C(format) set to C(archive) (role variable
    C(mongodb_backup_format)), C(mongodump --archive) is streamed through gzip into
    C(backups/mongodb-backup-YYYYMMDD-HHMMSS.archive.gz) (aliases C(daily-YYYY-MM-DD.archive.gz),
    C(latest.archive.gz)) with no local dump; verify, list, the catalogue and restore
    (C(mongorestore --archive --gzip)) read both formats.
  - After each successful backup it writes the team's catalogue next to the backups,
    C(backups/index.html) and C(backups/index.json), rebuilt from the bucket's listing; each
    backup's manifest says what its dump held (databases, collections, document counts, index
    names, tool version, the host's public alias). A failure to write the catalogue never fails
    the backup.
options:
  state:
    description:
      - V(backup) takes a backup.
      - V(list) lists the backups and their aliases (C(latest.tar.gz), C(daily-*.tar.gz)), each
        with its sha256; nothing else under the prefix.
      - V(catalogue) rebuilds C(index.html) and C(index.json) under the prefix from the bucket's
        listing.
      - V(verify) checks one's signed manifest, downloads it and checks its checksum and archive.
      - V(restore) restores one with C(mongorestore).
      - V(drill) is a restore drill of one (default V(latest)) on the same server, under the
        engine's lock. It checks its signed manifest, downloads it, checks its sha256, restores
        each database C(<db>) into a scratch database C(drill_<db>) with C(mongorestore
        --nsFrom/--nsTo) as the configured drill user, compares every collection's document
        count and index names with what was recorded at dump time (the backup's signed
        manifest), drops the scratch databases whatever happened, and reports ok or the
        differences with the measured recovery time. It refuses to start when a C(drill_<db>)
        exists that a drill did not make. Fails when anything differs; never C(changed) (the
        server and the bucket are left as they were; the result goes to the state file and
        CloudWatch, as a backup's does).
      - V(status) reports the last good backup, its age, the next run, whether S3 answers, a
        run holding the lock and the last drills, as C(status-check.sh) does; fails when
        anything needs attention (C(problems)).
    type: str
    choices: [backup, drill, restore, catalogue, verify, list, status]
    default: backup
  config:
    description: Path of the host's backup configuration (JSON, root-only).
    type: path
    default: /etc/mongodb-backup/backup.json
  key:
    description:
      - Backup to verify, restore or drill, as a full key, a file name under the prefix, or V(latest).
    type: str
    default: latest
  drop:
    description:
      - With O(state=restore), drop each collection before restoring it (C(--drop)).
      - On more than one host at once this needs O(drop_on_many_hosts=true) too.
    type: bool
    default: false
  drop_on_many_hosts:
    description:
      - Confirms O(drop=true) when the play runs on more than one host (the action plugin
        refuses it otherwise, before any host is touched).
    type: bool
    default: false
  allow_other_deployment:
    description:
      - With O(state=restore), restore a backup recorded as taken on another deployment
        (its C(deployment) metadata differs from this host's). Refused otherwise.
    type: bool
    default: false
  allow_unsigned:
    description:
      - With O(state=verify), O(state=restore) or O(state=drill), accept a backup that has no signed
        manifest (one taken before manifests), trusting the object's own metadata. Refused otherwise.
      - A manifest that is there but does not check out (unknown signer, bad signature) is refused
        whatever this says.
    type: bool
    default: false
  accept_shrink:
    description:
      - With O(state=backup), make the backup daily and latest even when its documents or dump
        bytes dropped more than the configured C(shrink_alarm_percent) against latest, or its dump
        was found damaged. Without it such a backup is kept, with its manifest, but latest is not
        replaced and the run fails saying why.
    type: bool
    default: false
  accept_other_writer:
    description:
      - With O(state=backup), replace a latest that another host wrote (one that is not a member of
        this host's replica set). Without it such a run fails before it dumps, naming both hosts;
        two hosts backing up to one prefix would overwrite each other's latest and daily.
      - For a host rebuilt under a new alias, once; else give each host its own prefix.
    type: bool
    default: false
  restore_user:
    description:
      - With O(state=restore), the MongoDB user that restores (needs the C(restore) role, or
        C(root)). Defaults to the backup user, whose C(backup) role cannot write.
    type: str
  restore_config:
    description:
      - With O(state=restore), a root-only C(mongorestore --config) file holding the password of
        O(restore_user). Defaults to the backup user's file.
    type: path
  bucket:
    description: Override the configured bucket.
    type: str
  prefix:
    description: Override the configured key prefix.
    type: str
  endpoint_url:
    description: Override the configured S3 endpoint (non-AWS S3).
    type: str
  region:
    description: Override the configured region.
    type: str
notes:
  - Check mode reports what would be done and changes nothing (V(list), V(verify) and
    V(status) only read, and run as usual).
  - The module and the host's C(backup.sh) dispatch through the same action table of the
    engine (C(module_utils/tasky_backup/actions.py)).
  - Needs boto3 and pymongo on the host; the C(mongodb_backup) role installs them, pinned, in
    the engine's venv, which the module uses (option C(venv) of the configuration).
  - A backup while another one runs fails at once (the engine's lock) and is recorded as locked
    out; nothing else is touched.
  - On a replica set member that is not the one chosen to back up, a backup is skipped
    (C(status=skipped), not changed).
  - A restore first checks the backup's signed manifest against allowed_signers, downloads the
    archive (decrypting it with the host's age identity when it is encrypted) and checks its sha256
    against the manifest's; it never restores admin, config or local, bypasses document validation,
    and fails when mongorestore reports documents it could not restore.
  - A drill needs the drill login of the configuration (C(drill_user), C(drill_config)), which
    the C(mongodb_backup) role writes with C(mongodb_backup_drill_enabled). A drill while a
    backup runs fails at once as locked (C(status=locked)). On a replica set member that is not
    the primary it is skipped (C(status=skipped)).
author:
  - tasky team
"""

EXAMPLES = r"""
# Ad hoc, with the host's configuration:
#   ansible mongodb -b -m tasky_backup
#   ansible mongodb -b -m tasky_backup -a state=list
#   ansible mongodb -b -m tasky_backup -a state=catalogue
#   ansible mongodb -b -m tasky_backup -a state=status
#   ansible mongodb -b -m tasky_backup -a "state=restore drop=true restore_user=admin restore_config=/root/restore.yaml"

- name: Take a backup before the upgrade
  tasky_backup:
  register: backup

- name: Verify the backup just taken
  tasky_backup:
    state: verify
    key: "{{ backup.key }}"

- name: List the backups
  tasky_backup:
    state: list
  register: backups

- name: Rebuild the catalogue page (backups/index.html)
  tasky_backup:
    state: catalogue

- name: Prove the newest backup restores (scratch databases drill_<db>, dropped afterwards)
  tasky_backup:
    state: drill
  register: drill
"""

RETURN = r"""
status:
  description:
    - Backup, V(success), V(skipped) (not the chosen replica set member), V(failed) or V(locked).
    - Drill, V(ok), V(failed), V(skipped) (not the primary) or V(locked).
  returned: state is backup or drill
  type: str
reason:
  description: Why a backup was skipped.
  returned: state is backup and status is skipped
  type: str
databases:
  description: The databases in the archive (never admin, config or local).
  returned: state is backup and status is success
  type: list
  elements: str
host:
  description: The host that took the backup (its internal name; what is public names it by its alias).
  returned: state is backup
  type: str
users_key:
  description: Key of the private archive of users and roles, when C(users_prefix) is configured.
  returned: state is backup and users_prefix is set
  type: str
documents:
  description: Documents mongorestore restored (restore); documents counted in the scratch databases (drill).
  returned: state is restore or drill
  type: int
ok:
  description:
    - Drill, whether it restored every collection with the recorded document count and index names.
    - Status, whether nothing needs attention.
  returned: state is drill or status
  type: bool
differences:
  description: What the drill found different from the record taken at dump time, each naming its collection.
  returned: state is drill
  type: list
  elements: str
  sample: ["go-mongodb.todos: 200 documents at dump time, 0 restored"]
backup_key:
  description: The timestamped backup the key restored or drilled is (or, for an alias such as latest, copies).
  returned: state is restore or drill
  type: str
compared:
  description:
    - Per restored collection (C(db.collection)), its document count and index names, and what was
      recorded at dump time (C(expected)).
  returned: state is drill
  type: dict
recovery_s:
  description: The measured recovery time of the drill in seconds (download, checksum, unpack and mongorestore).
  returned: state is drill
  type: float
restore_s:
  description: Seconds mongorestore took in the drill.
  returned: state is drill
  type: float
scratch_dropped:
  description: Whether every scratch database of the drill is gone afterwards.
  returned: state is drill
  type: bool
key:
  description: Key of the timestamped backup (backup), or of the backup verified, restored or drilled.
  returned: state is backup, verify, restore or drill
  type: str
  sample: backups/mongodb-backup-20261125-020000.tar.gz
keys:
  description:
    - The three keys written by a backup (timestamped, daily, latest).
    - With O(state=catalogue), the two keys of the catalogue (C(index.json), C(index.html)).
  returned: state is backup or catalogue
  type: list
  elements: str
urls:
  description: Public URLs of the timestamped backup and of latest.tar.gz.
  returned: state is backup
  type: list
  elements: str
size:
  description: Archive size in bytes.
  returned: state is backup or verify
  type: int
sha256:
  description: sha256 of the archive.
  returned: state is backup or verify
  type: str
duration_s:
  description: Duration of the backup in seconds.
  returned: state is backup
  type: float
format:
  description: V(tar.gz) or V(archive), the format of the backup taken or verified.
  returned: state is backup or verify
  type: str
progress:
  description:
    - The progress lines the run logged (at most one per 30 s, and the last one), each with the
      bytes dumped, compressed and uploaded, the rate and the time left.
  returned: state is backup and status is success
  type: list
  elements: str
backups:
  description:
    - The backups, newest first, then their aliases (latest first, then daily newest first).
    - Only these; the catalogue, the manifests and anything else under the prefix are left out.
  returned: state is list
  type: list
  elements: dict
  contains:
    key:
      description: Object key.
      type: str
      sample: backups/mongodb-backup-20261125-020000.tar.gz
    name:
      description: File name under the prefix.
      type: str
    kind:
      description: V(backup) or V(alias).
      type: str
    sha256:
      description: sha256 of the archive, from the object's metadata.
      type: str
    size:
      description: Size in bytes.
      type: int
    last_modified:
      description: When the object was written (UTC).
      type: str
    url:
      description: Public URL.
      type: str
    host:
      description: Host that took the backup (object metadata).
      type: str
    created:
      description: When the backup's run started (UTC, from its name).
      type: str
      returned: for a backup
    copies:
      description: Key of the backup an alias is a copy of.
      type: str
      returned: for an alias
catalogue:
  description: Public URL of the catalogue page (C(index.html)) written after the backup.
  returned: state is backup, status is success and the catalogue was written
  type: str
catalogue_error:
  description: Why the catalogue could not be written (the backup is good all the same).
  returned: state is backup and the catalogue was not written
  type: str
url:
  description: Public URL of the catalogue page.
  returned: state is catalogue
  type: str
  sample: https://tasky-backups.s3.us-east-1.amazonaws.com/backups/index.html
index_json:
  description: Public URL of the catalogue as JSON.
  returned: state is catalogue
  type: str
newest:
  description: Key of the newest backup in the catalogue, if any.
  returned: state is catalogue
  type: str
counts:
  description: How many backups and aliases the catalogue lists (keys C(backups), C(aliases)).
  returned: state is catalogue
  type: dict
  sample: {"backups": 30, "aliases": 31}
generated_at:
  description: When the catalogue was written (UTC).
  returned: state is catalogue
  type: str
valid:
  description: Whether the signed manifest, the checksum, the size and the archive listing are right.
  returned: state is verify
  type: bool
signed:
  description:
    - Whether the backup was trusted through its signed manifest (checked against allowed_signers).
    - False only with O(allow_unsigned=true), for a backup from before manifests.
  returned: state is verify or restore
  type: bool
encrypted:
  description: Whether the backup is age-encrypted (its name ends in C(.age)).
  returned: state is verify
  type: bool
read_through:
  description:
    - False when the backup is encrypted to no identity this host holds.
    - Its bytes and signature are checked then, not the archive inside.
  returned: state is verify
  type: bool
oplog_replayed:
  description: Whether mongorestore replayed the backup's oplog (only when its signed manifest says it has one).
  returned: state is restore
  type: bool
manifest:
  description: Key of the backup's signed manifest (its signature is the same key with C(.sig)).
  returned: state is backup and status is success
  type: str
encrypted_to:
  description: The age recipients the backup is encrypted to; empty for plaintext.
  returned: state is backup and status is success
  type: list
  elements: str
problems:
  description: What is wrong with the backup (verify), or what needs attention (status).
  returned: state is verify or status
  type: list
  elements: str
last_success:
  description: When the last good backup finished (UTC), from the host's state file.
  returned: state is status
  type: str
age_hours:
  description: Age of the last good backup in hours (of latest in S3 on a member that skips its runs).
  returned: state is status
  type: float
next_run:
  description: When cron runs the next backup (UTC), or the schedule when it is not a daily one.
  returned: state is status
  type: str
s3_reachable:
  description: Whether the bucket answered.
  returned: state is status
  type: bool
running_since:
  description: When the run that holds the engine's lock started; null when none does.
  returned: state is status
  type: str
collections:
  description: The .bson files in the archive.
  returned: state is verify
  type: list
  elements: str
"""

import dataclasses

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.tasky_backup.actions import ACTIONS, Request, perform
from ansible.module_utils.tasky_backup.base.errors import BackupError
from ansible.module_utils.tasky_backup.base.settings import DEFAULT_CONFIG, load_settings
from ansible.module_utils.tasky_backup.base.venv import use_engine_venv

ARGUMENTS = {
    "state": {"type": "str", "choices": [a.name for a in ACTIONS.values() if a.module], "default": "backup"},
    "config": {"type": "path", "default": DEFAULT_CONFIG},
    "key": {"type": "str", "default": "latest"},
    "drop": {"type": "bool", "default": False},
    "drop_on_many_hosts": {"type": "bool", "default": False},  # read by the action plugin
    "allow_other_deployment": {"type": "bool", "default": False},
    "allow_unsigned": {"type": "bool", "default": False},
    "accept_shrink": {"type": "bool", "default": False},
    "accept_other_writer": {"type": "bool", "default": False},
    "restore_user": {"type": "str"},
    "restore_config": {"type": "path"},
    **{name: {"type": "str"} for name in ("bucket", "prefix", "endpoint_url", "region")},  # overrides
}


def missing_libraries():
    """The engine's libraries this Python cannot import (after adding the engine's venv)."""
    missing = []
    for name in ("boto3", "pymongo", "zlib_ng"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    return missing


def main():
    module = AnsibleModule(argument_spec=ARGUMENTS, supports_check_mode=True)
    params = module.params
    try:
        settings = load_settings(
            params["config"], {k: params[k] for k in ("bucket", "prefix", "endpoint_url", "region")}
        )
    except BackupError as exc:
        module.fail_json(msg=str(exc))
    use_engine_venv(settings)
    missing = missing_libraries()
    if missing:
        module.fail_json(msg=missing_required_lib(" and ".join(missing), reason="for the backup engine"))
    request = Request(**{field.name: params[field.name] for field in dataclasses.fields(Request)})
    outcome = perform(params["state"], settings, request, check=module.check_mode)
    result = outcome.result if outcome.result is not None else ({"status": "locked"} if outcome.locked else {})
    if not outcome.ok:
        module.fail_json(msg=outcome.message, **result)
    module.exit_json(changed=outcome.changed, **({"msg": outcome.message} if outcome.message else {}), **result)


if __name__ == "__main__":
    main()
