"""boto3 clients: region, endpoint and keys from the config; retries from botocore's own
retry modes, never a hand-written loop."""


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
    if config["access_key"]:
        kwargs["aws_access_key_id"] = config["access_key"]
        kwargs["aws_secret_access_key"] = config["secret_key"]
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
