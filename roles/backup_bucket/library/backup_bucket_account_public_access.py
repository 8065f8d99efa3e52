#!/usr/bin/python
# MIT License (see the project's README.md)
"""Reads the S3 Block Public Access settings of the caller's AWS account (read only)."""

DOCUMENTATION = r"""
module: backup_bucket_account_public_access
short_description: Read the account-level S3 Block Public Access of the caller's account
description:
  - Finds the caller's account with STS C(GetCallerIdentity), then reads its S3 Block Public Access
    with S3 Control C(GetPublicAccessBlock). Changes nothing.
  - An account without a configuration blocks nothing (C(configured=false), every setting false).
  - When the caller may not read it (no C(s3:GetAccountPublicAccessBlock)), C(readable=false) and
    C(error) say why; the module does not fail.
options:
  region: {type: str, required: true, description: AWS region of the calls.}
  endpoint_url: {type: str, description: Endpoint serving STS and S3 Control (tests only).}
  access_key: {type: str, no_log: true, description: Access key; empty uses boto3's credential chain.}
  secret_key: {type: str, no_log: true, description: Secret key; empty uses boto3's credential chain.}
requirements: [boto3]
author: tasky team
"""

RETURN = r"""
account_id: {description: The caller's account., type: str, returned: success}
readable:
  description: Whether the account's Block Public Access could be read.
  type: bool
  returned: always
configured:
  description: Whether the account has a Block Public Access configuration.
  type: bool
  returned: when readable
settings:
  description: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets (false when not configured).
  type: dict
  returned: when readable
error: {description: Why the settings could not be read., type: str, returned: when not readable}
"""

from ansible.module_utils.basic import AnsibleModule

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # reported by main()
    boto3 = None

SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def client(module, service):
    p = module.params
    return boto3.client(
        service,
        region_name=p["region"],
        endpoint_url=p["endpoint_url"] or None,
        aws_access_key_id=p["access_key"] or None,
        aws_secret_access_key=p["secret_key"] or None,
    )


def s3control(module, account_id):
    s3c = client(module, "s3control")
    if module.params["endpoint_url"]:
        # botocore sends S3 Control calls to <account-id>.<endpoint host>; a custom endpoint (moto's
        # server on loopback in the tests) cannot carry that prefix, so send them to it as given.
        def strip_account_prefix(request, **_):
            request.url = request.url.replace(f"//{account_id}.", "//", 1)

        s3c.meta.events.register("before-sign.s3-control", strip_account_prefix)
    return s3c


def main():
    module = AnsibleModule(
        argument_spec={
            "region": {"type": "str", "required": True},
            "endpoint_url": {"type": "str", "default": ""},
            "access_key": {"type": "str", "default": "", "no_log": True},
            "secret_key": {"type": "str", "default": "", "no_log": True},
        },
        supports_check_mode=True,
    )
    if boto3 is None:
        module.fail_json(msg="boto3 is required on the control node")
    try:
        account_id = client(module, "sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as exc:
        module.fail_json(msg=f"sts:GetCallerIdentity failed, so the account is unknown: {exc}")
    try:
        block = s3control(module, account_id).get_public_access_block(AccountId=account_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchPublicAccessBlockConfiguration":
            module.exit_json(
                changed=False,
                account_id=account_id,
                readable=True,
                configured=False,
                settings=dict.fromkeys(SETTINGS, False),
            )
        module.exit_json(changed=False, account_id=account_id, readable=False, error=f"{code}: {exc}")
    except BotoCoreError as exc:
        module.exit_json(changed=False, account_id=account_id, readable=False, error=str(exc))
    config = block.get("PublicAccessBlockConfiguration", {})
    settings = {name: bool(config.get(name, False)) for name in SETTINGS}
    module.exit_json(changed=False, account_id=account_id, readable=True, configured=True, settings=settings)


if __name__ == "__main__":
    main()
