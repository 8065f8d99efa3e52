#!/usr/bin/python
"""A bucket's whole lifecycle configuration, set to exactly the given rules."""

DOCUMENTATION = r"""
---
module: backup_bucket_lifecycle
short_description: Set an S3 bucket's lifecycle configuration to exactly the given rules
description:
  - Reads the bucket's lifecycle rules and replaces them with O(rules) when they differ, so a
    second run changes nothing. Rules are compared by meaning, not by form (S3 servers answer the
    same filter in several shapes, e.g. Ceph RGW's top-level Prefix for an empty prefix).
  - Unlike C(community.aws.s3_lifecycle), rules can filter on object tags, which the backups
    need (only objects tagged to expire do).
options:
  name:
    description: The bucket.
    type: str
    required: true
  rules:
    description: The rules, in the S3 API's shape (ID, Status, Filter, Expiration, ...).
    type: list
    elements: dict
    required: true
  region:
    description: AWS region.
    type: str
  endpoint_url:
    description: S3 endpoint (non-AWS S3).
    type: str
  access_key:
    description: Access key (non-AWS S3); empty uses boto3's chain.
    type: str
    no_log: true
  secret_key:
    description: Secret key (non-AWS S3).
    type: str
    no_log: true
author:
  - tasky team
"""

RETURN = r"""
rules:
  description: The rules in place after the run.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule


def normal_filter(rule):
    """(prefix, sorted tags) of a rule whatever the shape S3 answered it in."""
    where = rule.get("Filter")
    if where is None:
        return rule.get("Prefix", ""), ()
    tags = list(where.get("And", {}).get("Tags", []))
    if "Tag" in where:
        tags.append(where["Tag"])
    prefix = where.get("And", {}).get("Prefix", where.get("Prefix", ""))
    return prefix, tuple(sorted((t["Key"], t["Value"]) for t in tags))


def normal(rules):
    """The rules by ID, each reduced to what it means."""
    out = {}
    for rule in rules:
        meaning = {k: v for k, v in rule.items() if k not in ("ID", "Filter", "Prefix")}
        meaning["Filter"] = normal_filter(rule)
        out[rule["ID"]] = meaning
    return out


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "rules": {"type": "list", "elements": "dict", "required": True},
            "region": {"type": "str"},
            "endpoint_url": {"type": "str"},
            "access_key": {"type": "str", "no_log": True},
            "secret_key": {"type": "str", "no_log": True},
        },
        supports_check_mode=True,
    )
    try:
        import boto3
        from botocore.exceptions import ClientError
    except ImportError:
        module.fail_json(msg="boto3 is required on the control node")
    params = module.params
    kwargs = {"region_name": params["region"]}
    if params["endpoint_url"]:
        kwargs["endpoint_url"] = params["endpoint_url"]
    if params["access_key"]:
        kwargs.update(aws_access_key_id=params["access_key"], aws_secret_access_key=params["secret_key"])
    client = boto3.client("s3", **kwargs)
    try:
        current = client.get_bucket_lifecycle_configuration(Bucket=params["name"])["Rules"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        # In check mode the bucket may not exist yet: it would get these rules.
        if code != "NoSuchLifecycleConfiguration" and not (code == "NoSuchBucket" and module.check_mode):
            module.fail_json(msg=f"cannot read the lifecycle of {params['name']}: {exc}")
        current = []
    wanted = params["rules"]
    if normal(current) == normal(wanted):
        module.exit_json(changed=False, rules=current)
    diff = {"before": {"rules": current}, "after": {"rules": wanted}}
    if not module.check_mode:
        try:
            client.put_bucket_lifecycle_configuration(Bucket=params["name"], LifecycleConfiguration={"Rules": wanted})
        except ClientError as exc:
            module.fail_json(msg=f"cannot set the lifecycle of {params['name']}: {exc}")
    module.exit_json(changed=True, rules=wanted, diff=diff)


if __name__ == "__main__":
    main()
