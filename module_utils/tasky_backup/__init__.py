"""The tasky MongoDB backup engine: one implementation for the cron job and the Ansible module.

The module `tasky_backup` imports this package as `ansible.module_utils.tasky_backup`; the
`mongodb_backup` role installs the same package in /opt/mongodb-backup/, where backup.sh and
status-check.sh run it as a command (`python3 -m tasky_backup backup|list|...`, see cli.py).

One backup (backup.py): lock -> mongodump (dump.py; credentials from a 0600 config file) ->
tar.gz of the dump folder (archive.py), or in the archive format `mongodump --archive` filtered
of private databases (mongoarchive.py) with no local dump -> gzip on every core (zlib-ng) ->
an S3 multipart upload (upload.py) -> verify size and checksums -> sha256 and size into the
object's metadata -> server-side copies to daily-YYYY-MM-DD and latest (store.py) -> state file
(state.py), metrics (metrics.py), summary line, cleanup; progress lines meanwhile
(progress.py). Needs the standard library, boto3, pymongo and zlib-ng.
"""
