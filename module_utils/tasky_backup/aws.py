"""boto3 clients: region, endpoint and keys from the config; retries from botocore's own
retry modes, never a hand-written loop."""

import configparser
import os

from .errors import BackupError
from .files import read_text


def aws_client(config, service, endpoint_url, **options):
    """A boto3 client with the config's region and, for non-AWS servers, endpoint and keys
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
    kwargs = {"region_name": config["region"], "config": client_config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    access_key, secret_key = static_keys(config)
    if access_key:
        kwargs["aws_access_key_id"] = access_key
        kwargs["aws_secret_access_key"] = secret_key
    return boto3.client(service, **kwargs)


def s3_client(config):
    """S3 client; retries come from botocore's standard retry mode."""
    return aws_client(
        config,
        "s3",
        config["endpoint_url"],
        retries={"mode": "standard", "max_attempts": config["retries"]},
        connect_timeout=10,
        read_timeout=60,
    )


def static_keys(config):
    """(access key, secret key) from the config or its credentials file; ("", "") for boto3's
    own chain (the instance role in production)."""
    if not config["credentials_file"]:
        return config["access_key"], config["secret_key"]
    path = config["credentials_file"]
    text = read_text(path)
    if text is None:
        raise BackupError(f"the S3 credentials file {path} does not exist")
    if os.stat(path).st_mode & 0o077:
        raise BackupError(f"the S3 credentials file {path} can be read by others; make it 0600")
    parser = configparser.ConfigParser()
    parser.read_string(text)
    try:
        return parser["default"]["aws_access_key_id"], parser["default"]["aws_secret_access_key"]
    except KeyError:
        raise BackupError(f"the S3 credentials file {path} has no [default] keys") from None
