"""The run log: UTC-timestamped lines in the log file, and on stderr when run by hand."""

import logging
import sys
import time

from .clock import TIME_FORMAT
from .files import open_append

LOG = logging.getLogger("tasky-backup")


def not_terminal_only(record):
    """Progress lines every few seconds are for a person watching, not for the log file."""
    return not getattr(record, "terminal_only", False)


def setup_logging(config, verbose=False):
    """UTC-timestamped lines to the log file (and stderr when run by hand)."""
    LOG.setLevel(logging.INFO)
    LOG.handlers.clear()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", TIME_FORMAT)
    formatter.converter = time.gmtime
    if config.get("log_file"):
        # Opened without following a symlink, and only if it is a plain file of this user.
        file_handler = logging.StreamHandler(open_append(config["log_file"]))
        file_handler.setFormatter(formatter)
        file_handler.addFilter(not_terminal_only)
        LOG.addHandler(file_handler)
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        LOG.addHandler(stream)
