"""The tasky MongoDB backup engine: one implementation for the cron job and the Ansible module.

The module `tasky_backup` imports this package as `ansible.module_utils.tasky_backup`; the
`mongodb_backup` role installs the same package in /opt/mongodb-backup/, where backup.sh and
status-check.sh run it as a command (`python3 -m tasky_backup backup|list|...`, see cli.py).

One backup (backup.py): lock -> mongodump (dump.py; credentials from a 0600 config file) ->
tar.gz (archive.py) streamed into an S3 multipart upload (store.py; nothing written to local
disk but the dump) -> verify size and multipart ETag -> sha256 and size into the object's
metadata -> server-side copies to daily-YYYY-MM-DD and latest -> state file (state.py),
metrics (metrics.py), summary line, cleanup. Needs only the standard library and boto3.
"""
