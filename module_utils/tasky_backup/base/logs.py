"""The run log: UTC-timestamped lines in the log file, and on stderr when run by hand.

Every engine module logs to its own logger (logging.getLogger(__name__)); they all hang below
the engine package's logger, which this configures once per run."""

import logging
import sys
import time

from .clock import TIME_FORMAT
from .files import open_append

# "tasky_backup" on the host, "ansible.module_utils.tasky_backup" inside the Ansible module.
ENGINE_LOGGER = __name__.rsplit(".", 2)[0]


def engine_log():
    return logging.getLogger(ENGINE_LOGGER)


def not_terminal_only(record):
    """Progress lines every few seconds are for a person watching, not for the log file."""
    return not getattr(record, "terminal_only", False)


def setup_logging(log_file, verbose=False):
    """UTC-timestamped lines to log_file (none when empty) and to stderr when verbose. Raises
    BackupError when the log file is refused (a symlink planted at it, another owner's file)."""
    log = engine_log()
    log.setLevel(logging.INFO)
    log.handlers.clear()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", TIME_FORMAT)
    formatter.converter = time.gmtime
    if log_file:
        # Opened without following a symlink, and only if it is a plain file of this user.
        file_handler = logging.StreamHandler(open_append(log_file))
        file_handler.setFormatter(formatter)
        file_handler.addFilter(not_terminal_only)
        log.addHandler(file_handler)
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        log.addHandler(stream)
