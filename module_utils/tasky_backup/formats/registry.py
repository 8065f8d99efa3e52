"""Which format a backup is in: the one the settings name, or the one a stored key's extension says."""

from ..s3.keys import format_of
from .archive import Archive
from .targz import TarGz

FORMATS = {fmt.name: fmt for fmt in (TarGz(), Archive())}


def named(name):
    """The format the settings name (settings.format)."""
    return FORMATS[name]


def for_key(key):
    """The format of a stored backup, from its key's extension."""
    return FORMATS[format_of(key)]
