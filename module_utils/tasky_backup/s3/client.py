"""The S3 client of a run: botocore's standard retry mode, never a hand-written loop; every
request names the bucket's owner when it is known."""

from ..base.aws import aws_client


def s3_client(settings):
    client = aws_client(
        settings,
        "s3",
        settings.endpoint_url,
        # total_max_attempts counts the first call; botocore's max_attempts would add one more.
        retries={"mode": "standard", "total_max_attempts": settings.retries},
        connect_timeout=10,
        read_timeout=60,
    )
    if settings.expected_bucket_owner:
        expect_owner(client, settings.expected_bucket_owner)
    return client


def expect_owner(client, account):
    """Every operation that takes ExpectedBucketOwner (ExpectedSourceBucketOwner: a copy's
    source) gets it, in one place: a bucket of the same name re-created in another account is
    refused (403) rather than sent the dumps."""

    def add(params, model, **_kwargs):
        members = model.input_shape.members if model.input_shape else {}
        for name in ("ExpectedBucketOwner", "ExpectedSourceBucketOwner"):
            if name in members:
                params.setdefault(name, account)

    client.meta.events.register("provide-client-params.s3.*", add)
