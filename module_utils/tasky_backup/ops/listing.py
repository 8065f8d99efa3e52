"""The backups in the bucket, newest first, then their aliases (latest, daily-*), each with its
sha256; an alias says which backup it copies. Nothing else under the prefix (the catalogue,
manifests)."""

import dataclasses

from ..base.errors import reported_as
from ..base.results import Result
from ..s3.client import s3_client
from ..s3.listing import scan


@dataclasses.dataclass
class Listing(Result):
    backups: list


@reported_as("list")
def list_backups(settings, _request=None, client=None):
    backups, aliases, _keys = scan(settings, client or s3_client(settings))
    return Listing(backups + aliases)
