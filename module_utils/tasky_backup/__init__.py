"""The tasky MongoDB backup engine: one implementation for the cron job and the Ansible module.

The module `tasky_backup` imports this package as `ansible.module_utils.tasky_backup`; the
`mongodb_backup` role installs the same package on the host, where backup.sh and
status-check.sh run it as a command (`python3 -m tasky_backup backup|drill|list|...`).

    actions.py   the one action table; the command line (__main__.py) and the module dispatch through it
    recorded.py  the recorded run of a backup or drill: signals, state file, metrics, SUMMARY line
    ops/         the operations: backup, restore, drill, verify, status, catalogue (+ page), listing
    formats/     one file per format (tar.gz, archive): produced, read through, restored
    s3/          the bucket: client, retries, names, metadata, copies, rollback, listing, upload, manifests
    mongo/       MongoDB: server questions, the tools, oplog, archive stream, dump facts, drill scratch
    base/        settings, errors, clock, files, lock, logs, state, progress, metrics, results

One backup (ops/backup.py): lock -> mongodump (credentials from a 0600 config file) -> its
format's stream (formats/) -> gzip on every core (zlib-ng) -> age encryption to the team's keys
(formats/age.py) -> an S3 multipart upload (s3/multipart.py) -> verify size and checksums ->
sha256 and size into the object's metadata -> a manifest signed with the host's SSH key
(s3/manifest.py) -> the shrink check -> server-side copies to daily-YYYY-MM-DD and latest
(s3/objects.py) -> Object Lock -> catalogue -> state file, metrics, summary line (recorded.py),
cleanup. docs/engine.md tells it whole. Needs the standard library, boto3, pymongo, zlib-ng,
pyrage and OpenSSH's ssh-keygen.
"""
