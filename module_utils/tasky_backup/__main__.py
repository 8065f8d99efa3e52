"""The command line that backup.sh and status-check.sh run: python3 -m tasky_backup ACTION.
Exit status 0 done (or skipped), 1 failed, 2 a configuration refused, 75 locked out."""

import argparse
import dataclasses
import sys

from .actions import ACTIONS, Request, perform
from .base.errors import EXIT_BAD_SETTINGS, BackupError
from .base.settings import DEFAULT_CONFIG, load_settings


def arguments(argv):
    parser = argparse.ArgumentParser(prog="tasky_backup", description="tasky MongoDB backup engine")
    parser.add_argument("action", choices=[*ACTIONS, "check"], help="check: the configuration only")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--key", default="latest", help="backup key or name (drill, verify, restore)")
    parser.add_argument("--drop", action="store_true", help="restore: drop collections first")
    parser.add_argument("--restore-user", help="restore: MongoDB user allowed to write (default: the backup user)")
    parser.add_argument("--restore-config", help="restore: mongorestore --config file with that user's password")
    parser.add_argument(
        "--allow-other-deployment", action="store_true", help="restore: a backup of another deployment too"
    )
    parser.add_argument(
        "--allow-unsigned", action="store_true", help="verify, restore, drill: a backup from before manifests"
    )
    parser.add_argument("--accept-shrink", action="store_true", help="backup: made latest even if it shrank")
    parser.add_argument(
        "--accept-other-writer", action="store_true", help="backup: replace a latest another host wrote"
    )
    parser.add_argument("--check", action="store_true", help="say what would be done, change nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr too")
    return parser.parse_args(argv)


def main(argv=None):
    args = arguments(argv)
    try:
        settings = load_settings(args.config)
    except BackupError as exc:
        print(f"tasky-backup: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    if args.action == "check":  # the role validates backup.json with this before writing it
        print(f"{args.config}: ok")
        return 0
    request = Request(**{field.name: getattr(args, field.name) for field in dataclasses.fields(Request)})
    outcome = perform(args.action, settings, request, check=args.check, verbose=args.verbose)
    if outcome.result:
        print(ACTIONS[args.action].printed(outcome.result))
    elif outcome.message:
        print(f"tasky-backup: {outcome.message}", file=sys.stdout if outcome.ok else sys.stderr)
    return outcome.exit_status


if __name__ == "__main__":
    sys.exit(main())
