"""The S3 client of a run: botocore's standard retry mode, never a hand-written loop."""

from ..base.aws import aws_client


def s3_client(settings):
    return aws_client(
        settings,
        "s3",
        settings.endpoint_url,
        # total_max_attempts counts the first call; botocore's max_attempts would add one more.
        retries={"mode": "standard", "total_max_attempts": settings.retries},
        connect_timeout=10,
        read_timeout=60,
    )
