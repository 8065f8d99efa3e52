"""One "nothing lost" check for every fault test: what a failed run must leave exactly as it was.

A snapshot holds every object version in the bucket (key, version id, ETag, size, which is
latest), the incomplete multipart uploads, the work directory's entries, the state file's last
success and the log's lines. After a failed run, the bucket, uploads, work directory and last
success must be unchanged, and the log may only have grown (by the failed run's lines).
"""

import json
import os


def snapshot(s3, bucket, config):
    versions = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []):
            versions.append((item["Key"], item["VersionId"], item["ETag"], item["Size"], item["IsLatest"]))
        for item in page.get("DeleteMarkers", []):
            versions.append((item["Key"], item["VersionId"], "delete-marker", 0, item["IsLatest"]))
    uploads = [(u["Key"], u["UploadId"]) for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    work = sorted(os.listdir(config["work_dir"])) if os.path.isdir(config["work_dir"]) else []
    try:
        with open(config["state_file"], encoding="utf-8") as handle:
            last_success = json.load(handle).get("last_success")
    except FileNotFoundError:
        last_success = None
    try:
        with open(config["log_file"], encoding="utf-8") as handle:
            log = handle.read().splitlines()
    except FileNotFoundError:
        log = []
    return {
        "versions": sorted(versions),
        "uploads": uploads,
        "work": work,
        "last_success": last_success,
        "log": log,
    }


def assert_nothing_lost(s3, bucket, config, before):
    """The bucket (every version and ETag), the incomplete uploads, the work directory and the
    last success are as they were; the log kept every earlier line."""
    after = snapshot(s3, bucket, config)
    added = sorted(set(after["versions"]) - set(before["versions"]))
    gone = sorted(set(before["versions"]) - set(after["versions"]))
    assert after["versions"] == before["versions"], f"the bucket's objects or versions changed: +{added} -{gone}"
    assert after["uploads"] == before["uploads"] == [], "an incomplete multipart upload was left"
    assert after["work"] == before["work"], f"the work directory changed: {after['work']}"
    assert after["last_success"] == before["last_success"], "the state file's last success changed"
    assert after["log"][: len(before["log"])] == before["log"], "earlier log lines were lost"
    return after
