"""boto3 clients: region, endpoint and keys from the settings; retries from botocore's own
retry modes, never a hand-written loop."""

import configparser

from .errors import BackupError
from .files import read_secret


def aws_client(settings, service, endpoint_url, **options):
    """A boto3 client with the settings' region and, for non-AWS servers, endpoint and keys
    (empty keys: boto3's own chain, the instance role in production)."""
    import boto3
    from botocore.config import Config

    try:  # Python 3.9 hosts (AL2023, RHEL 9): boto3 warns on stderr at every run, i.e. cron mail
        from boto3.compat import filter_python_deprecation_warnings

        filter_python_deprecation_warnings()
    except ImportError:
        pass

    try:  # botocore >= 1.36 adds checksums by default, which older S3 servers reject.
        client_config = Config(request_checksum_calculation="when_required", **options)
    except TypeError:
        client_config = Config(**options)
    kwargs = {"region_name": settings.region, "config": client_config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    access_key, secret_key = static_keys(settings)
    if access_key:
        kwargs["aws_access_key_id"] = access_key
        kwargs["aws_secret_access_key"] = secret_key
    return boto3.client(service, **kwargs)


def static_keys(settings):
    """(access key, secret key) from the settings or their credentials file; ("", "") for
    boto3's own chain (the instance role in production)."""
    if not settings.credentials_file:
        return settings.access_key, settings.secret_key
    path = settings.credentials_file
    parser = configparser.ConfigParser()
    parser.read_string(read_secret(path, "S3 credentials file"))
    try:
        return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]
    except KeyError:
        raise BackupError(f"the S3 credentials file {path} has no [default] keys") from None
