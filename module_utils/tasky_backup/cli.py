"""The command line that backup.sh and status-check.sh run: python3 -m tasky_backup ACTION."""

import argparse
import json
import os
import sys

from .catalogue import write_catalogue
from .config import DEFAULT_CONFIG, load_config
from .drill_job import run_drill_job
from .errors import EXIT_LOCKED, BackupError, Locked
from .job import run_backup_job, signals_end_the_run
from .logs import LOG, setup_logging
from .restore import restore_backup
from .status import status_report
from .store import list_backups
from .verify import verify_backup


def main(argv=None):
    parser = argparse.ArgumentParser(description="tasky MongoDB backup engine")
    parser.add_argument(
        "action", choices=["backup", "drill", "list", "catalogue", "verify", "restore", "status", "check"]
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--key", help="backup key or name (drill, verify, restore); default latest")
    parser.add_argument("--drop", action="store_true", help="restore: drop collections first")
    parser.add_argument("--restore-user", help="restore: MongoDB user allowed to write (default: the backup user)")
    parser.add_argument("--restore-config", help="restore: mongorestore --config file with that user's password")
    parser.add_argument(
        "--allow-other-deployment", action="store_true", help="restore: a backup of another deployment too"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr too")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except BackupError as exc:
        print(f"tasky-backup: {exc}", file=sys.stderr)
        return 2
    if args.action == "check":  # the configuration only (the role validates backup.json with it)
        print(f"{args.config}: ok")
        return 0
    os.umask(0o077)
    try:
        setup_logging(config, verbose=args.verbose)
        refused = None
    except BackupError as exc:  # e.g. a symlink planted at the log file: log to stderr only
        setup_logging({}, verbose=True)
        refused = str(exc)
    if args.action == "backup":
        return run_backup_job(config, refused)
    if args.action == "drill":  # a restore drill (drill.py): exit 0 ok, 1 failed, 75 locked
        return run_drill_job(config, args.key, refused)
    if refused:
        print(f"tasky-backup: {refused}", file=sys.stderr)
        return 1
    try:
        if args.action == "list":
            result = list_backups(config)
        elif args.action == "catalogue":
            result = write_catalogue(config)
        elif args.action == "verify":
            result = verify_backup(config, args.key)
        elif args.action == "restore":
            with signals_end_the_run():  # SIGTERM, a lost terminal or Ctrl-C: scratch files removed
                result = restore_backup(
                    config,
                    args.key,
                    args.drop,
                    restore_config=args.restore_config,
                    restore_user=args.restore_user,
                    allow_other_deployment=args.allow_other_deployment,
                )
        else:
            result = status_report(config)
    except Locked as exc:
        print(f"tasky-backup: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except BackupError as exc:
        LOG.error("%s failed: %s", args.action, exc)
        print(f"tasky-backup: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))
    if args.action == "verify":
        return 0 if result["valid"] else 1
    if args.action == "status":
        return 0 if result["ok"] else 1
    return 0
