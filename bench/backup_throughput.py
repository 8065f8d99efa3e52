"""Benchmark (not a test): this project's backup pipeline against the seed's method, same run.

    make bench                       # 1 GiB synthetic dump against the bench lab's Ceph RGW
    make bench BENCH_SIZE_MIB=4096   # any size

Both methods start from the same synthetic dump (bench/synthetic_mongodump.py writes it in
mongodump's layout; half random, half text, so gzip has real work) and upload through a
byte-counting TCP proxy to real S3:

- seed: mongodump to disk, `tar czf` to disk, then three separate uploads of the same file
  (boto3 upload_file, as `aws s3 cp` does) for the timestamped, daily and latest keys;
- pipeline: the engine (module_utils/tasky_backup/) as cron runs it: the tar.gz is
  streamed into one multipart upload, daily and latest are server-side copies.

Each method runs as its own process; wall time, CPU (user+sys) and peak RSS (largest single
process) come from the kernel's accounting of that process tree (wait4), extra local disk is
the sampled peak of the scratch directory minus the dump, bytes uploaded are counted on the wire.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "module_utils"))
# Not MongoDB's mongodump: a synthetic dump of BENCH_DUMP_BYTES (its docstring says why).
SYNTHETIC_MONGODUMP = ROOT / "bench/synthetic_mongodump.py"
ACCESS_KEY = os.environ.get("LAB_ACCESS_KEY", "TASKYLABACCESSKEY000")
SECRET_KEY = os.environ.get("LAB_SECRET_KEY", "tasky-lab-throwaway-secret-key-0000000000")
BUCKET = "tasky-bench"
MIB = 1 << 20


def s3_client(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(request_checksum_calculation="when_required"),
    )


def empty_bucket(client):
    for page in client.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"], VersionId=item["VersionId"])


def dir_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


# --- the two methods, each run in a child process -------------------------------------------


def child_seed(endpoint, work, secret):
    """The seed's script: dump, tar czf to disk, three uploads of the same file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = f"mongodb-backup-{stamp}"
    dump = os.path.join(work, name)
    subprocess.run([str(SYNTHETIC_MONGODUMP), f"--config={secret}", f"--out={dump}"], check=True)
    dump_bytes = dir_bytes(dump)
    archive = os.path.join(work, f"{name}.tar.gz")
    subprocess.run(["tar", "czf", archive, "-C", work, name], check=True)
    client = s3_client(endpoint)
    for key in (f"backups/{name}.tar.gz", f"backups/daily-{stamp[:8]}.tar.gz", "backups/latest.tar.gz"):
        client.upload_file(archive, BUCKET, key)
    archive_bytes = os.path.getsize(archive)
    shutil.rmtree(dump)
    os.remove(archive)
    print(json.dumps({"dump_bytes": dump_bytes, "archive_bytes": archive_bytes}))


def child_pipeline(endpoint, work, secret):
    from tasky_backup.backup import take_backup
    from tasky_backup.config import check_config

    config = check_config(
        {
            "bucket": BUCKET,
            "endpoint_url": endpoint,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "mongodump_config": secret,
            "mongodump_path": str(SYNTHETIC_MONGODUMP),
            "work_dir": work,
            "lock_file": os.path.join(work, "..", "bench.lock"),
            "log_file": "",
            "state_file": os.path.join(work, "..", "state.json"),
        }
    )
    result = take_backup(config)
    print(json.dumps({"dump_bytes": result["dump_bytes"], "archive_bytes": result["size"]}))


# --- the parent: runs both, measures, prints the table ---------------------------------------


def measure(method, endpoint, work, secret, proxy, size_mib):
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # the synthetic dump needs pymongo's bson
    env = dict(os.environ, BENCH_DUMP_BYTES=str(size_mib * MIB), PATH=path)
    cmd = [sys.executable, __file__, "--child", method, "--endpoint", endpoint, "--work", work, "--secret", secret]
    peak = {"bytes": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["bytes"] = max(peak["bytes"], dir_bytes(work))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sent_before = proxy.sent
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    sampler.start()
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if status != 0:
        sys.exit(f"{method} failed (status {status})")
    info = json.loads(out.decode().strip().splitlines()[-1])
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "extra_disk_mib": max(0, peak["bytes"] - info["dump_bytes"]) / MIB,
        "uploaded_mib": (proxy.sent - sent_before) / MIB,
        "archive_mib": info["archive_bytes"] / MIB,
        "dump_mib": info["dump_bytes"] / MIB,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=int(os.environ.get("BENCH_SIZE_MIB", "1024")))
    parser.add_argument(
        "--methods",
        default=os.environ.get("BENCH_METHODS", "seed,pipeline"),
        help="comma-separated; 'pipeline' alone measures the pipeline at sizes the seed method cannot fit in the lab",
    )
    parser.add_argument("--child", choices=["seed", "pipeline"])
    parser.add_argument("--endpoint")
    parser.add_argument("--work")
    parser.add_argument("--secret")
    args = parser.parse_args()
    if args.child:
        {"seed": child_seed, "pipeline": child_pipeline}[args.child](args.endpoint, args.work, args.secret)
        return

    from outage_proxy import OutageProxy  # here only counting bytes: it never goes down

    port = os.environ.get("LAB_S3_PORT", "7500")
    proxy = OutageProxy(port, fail_after_bytes=float("inf"), down_for=0)
    client = s3_client(f"http://127.0.0.1:{port}")
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    scratch = tempfile.mkdtemp(prefix="tasky-bench-", dir="/var/tmp")
    secret = os.path.join(scratch, "mongodump.yaml")
    Path(secret).write_text("password: bench-not-a-secret\n")
    results = {}
    try:
        for method in args.methods.split(","):
            work = os.path.join(scratch, method)
            os.makedirs(work)
            empty_bucket(client)
            results[method] = measure(method, proxy.endpoint, work, secret, proxy, args.size_mib)
            print(f"{method}: {json.dumps({k: round(v, 2) for k, v in results[method].items()})}", file=sys.stderr)
    finally:
        empty_bucket(client)
        shutil.rmtree(scratch, ignore_errors=True)
        proxy.close()
    if set(results) != {"seed", "pipeline"}:
        return
    seed, ours = results["seed"], results["pipeline"]
    rows = [
        ("wall time (s)", "wall_s", "{:.1f}"),
        ("CPU user+sys (s)", "cpu_s", "{:.1f}"),
        ("peak RSS (MiB)", "peak_rss_mib", "{:.0f}"),
        ("extra local disk (MiB)", "extra_disk_mib", "{:.0f}"),
        ("bytes uploaded (MiB)", "uploaded_mib", "{:.0f}"),
        ("archive (MiB)", "archive_mib", "{:.0f}"),
    ]
    print(f"\nSynthetic dump: {seed['dump_mib']:.0f} MiB; S3: Ceph RGW on 127.0.0.1:{port}\n")
    print("| figure | seed method | this pipeline | pipeline / seed |")
    print("| --- | ---: | ---: | ---: |")
    for label, key, fmt in rows:
        ratio = ours[key] / seed[key] if seed[key] else float("nan")
        print(f"| {label} | {fmt.format(seed[key])} | {fmt.format(ours[key])} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
