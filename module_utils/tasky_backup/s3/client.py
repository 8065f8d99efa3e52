"""The S3 client of a run: botocore's standard retry mode, never a hand-written loop."""

from ..base.aws import aws_client


def s3_client(settings):
    return aws_client(
        settings,
        "s3",
        settings.endpoint_url,
        retries={"mode": "standard", "max_attempts": settings.retries},
        connect_timeout=10,
        read_timeout=60,
    )
