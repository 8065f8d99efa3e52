"""Benchmark (not a test): this project's backup pipeline against what users run instead, side by side.

    make bench                                  # 1 GiB, 3 rounds, every method; writes .lab/bench.json
    make bench BENCH_SIZE_MIB=256 BENCH_ROUNDS=1

The data is real: a todo app's documents (bench/todo_data.py, text-heavy, deterministic) loaded
through the bench lab's own FerretDB, and every method dumps it with MongoDB's real mongodump
100.11.0 (database `bench`) and uploads to the bench lab's Ceph RGW through a byte-counting TCP
proxy. The methods, each run as its own process tree:

- seed: the seed's script: mongodump to disk, `tar czf` to disk, three `aws s3 cp` of that file
  (timestamped, daily, latest);
- pigz_awscli: mongodump to disk, `tar -cf - | pigz -6 | aws s3 cp -` (Debian's pigz, the AWS CLI
  from PyPI, pinned in bench/requirements.txt);
- mongodump_archive_awscli: `mongodump --archive --gzip | aws s3 cp -`;
- pipeline_targz: the engine (module_utils/tasky_backup/) as cron runs it, format tar.gz: dump to
  disk, tar.gz on every core streamed into one multipart upload, verified, sha256 recorded,
  daily and latest by server-side copy, catalogue facts read;
- pipeline_archive: the same engine, format archive: mongodump --archive filtered, gzipped on
  every core and uploaded as it streams; no local disk;
- pipeline_targz_age, pipeline_archive_age: the same two, age-encrypted to a recipient as they
  stream (pyrage) and their manifests signed (ssh-keygen), as a public prefix runs them.

Figures per method (median of the rounds; wall also min): wall time, CPU user+sys of the method's
processes (wait4), the server's CPU meanwhile (FerretDB's /proc counters: it serves every method
alike), peak RSS (the largest single process, wait4's ru_maxrss), extra local disk (the sampled
peak of the method's scratch directory), bytes uploaded (counted on the wire), archive size (the
object in S3). The JSON goes to .lab/bench.json, the table to stdout.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/lab"))
sys.path.insert(0, str(ROOT / "module_utils"))
sys.path.insert(0, str(ROOT / "bench"))
TOOLS = ROOT / ".lab/tools/bin"
BENCH_VENV = Path(os.environ.get("BENCH_VENV", ROOT / ".lab/bench-venv"))
ACCESS_KEY = os.environ.get("LAB_ACCESS_KEY", "TASKYLABACCESSKEY000")
SECRET_KEY = os.environ.get("LAB_SECRET_KEY", "tasky-lab-throwaway-secret-key-0000000000")
SETUP_USER = os.environ.get("LAB_FERRETDB_SETUP_USER", "lab-setup")
SETUP_PASSWORD = os.environ.get("LAB_FERRETDB_SETUP_PASSWORD", "tasky-lab-ferretdb-setup-throwaway")
BACKUP_USER, BACKUP_PASSWORD = "backup", "bench-backup-password-not-real"
BUCKET = "tasky-bench"
DATABASE = "bench"
MIB = 1 << 20
METHODS = (
    "seed",
    "pigz_awscli",
    "mongodump_archive_awscli",
    "pipeline_targz",
    "pipeline_archive",
    "pipeline_targz_age",
    "pipeline_archive_age",
)
# Each encrypted pipeline against the same pipeline in plaintext, in the same run.
ENCRYPTED = {"pipeline_targz_age": "pipeline_targz", "pipeline_archive_age": "pipeline_archive"}
PEERS = ("seed", "pigz_awscli", "mongodump_archive_awscli")


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
    for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])


def dir_bytes(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


# --- the methods: shell scripts (what users run) and the engine --------------------------------

LOGIN = 'mongodump --host=127.0.0.1 --port="$PORT" --username=backup --authenticationDatabase=admin --config="$SECRET"'
SCRIPTS = {
    "seed": f"""
{LOGIN} --db={DATABASE} --out="$WORK/$NAME" 2>"$WORK/../mongodump-seed.log"
du -sb "$WORK/$NAME" | cut -f1 >"$WORK/../dump-bytes"
tar czf "$WORK/$NAME.tar.gz" -C "$WORK" "$NAME"
for key in "$NAME.tar.gz" "daily-$DAY.tar.gz" latest.tar.gz; do
  aws s3 cp --quiet "$WORK/$NAME.tar.gz" "s3://$BUCKET/backups/$key"
done
rm -rf "$WORK/$NAME" "$WORK/$NAME.tar.gz"
echo "backups/$NAME.tar.gz"
""",
    "pigz_awscli": f"""
{LOGIN} --db={DATABASE} --out="$WORK/$NAME" 2>"$WORK/../mongodump-pigz.log"
tar -cf - -C "$WORK" "$NAME" | pigz -6 | aws s3 cp --quiet - "s3://$BUCKET/backups/$NAME.tar.gz"
rm -rf "$WORK/$NAME"
echo "backups/$NAME.tar.gz"
""",
    "mongodump_archive_awscli": f"""
{LOGIN} --db={DATABASE} --archive --gzip 2>"$WORK/../mongodump-archive.log" |
  aws s3 cp --quiet - "s3://$BUCKET/backups/$NAME.archive.gz"
echo "backups/$NAME.archive.gz"
""",
}


def child_pipeline(method, endpoint, work, secret, port):
    from tasky_backup.base.logs import setup_logging
    from tasky_backup.base.settings import check_settings
    from tasky_backup.ops.backup import take_backup

    logs = os.path.dirname(work)
    backup_format = "archive" if method.startswith("pipeline_archive") else "tar.gz"
    key = os.path.join(logs, "signing-key")
    if not os.path.exists(key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    signers = os.path.join(logs, "allowed_signers")
    Path(signers).write_text(f'bench namespaces="tasky-backup" {Path(key + ".pub").read_text()}')
    recipients = [bench_recipient()] if method in ENCRYPTED else []
    config = check_settings(
        {
            "bucket": BUCKET,
            "endpoint_url": endpoint,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "mongodb_port": int(port),
            "mongodb_user": BACKUP_USER,
            "mongodump_config": secret,
            "mongodump_path": str(TOOLS / "mongodump"),
            "databases": [DATABASE],
            "format": backup_format,
            "work_dir": work,
            "lock_file": os.path.join(logs, "bench.lock"),
            "log_file": os.path.join(logs, f"engine-{backup_format}.log"),
            "state_file": os.path.join(logs, "state.json"),
            "signing_key": key,
            "allowed_signers": signers,
            "host_alias": "bench",
            "age_recipients": recipients,
        }
    )
    setup_logging(config.log_file)
    result = take_backup(config)
    print(result.key)


def bench_recipient():
    """A throwaway age recipient (its identity is thrown away: nothing decrypts the bench's data)."""
    from pyrage import x25519

    return str(x25519.Identity.generate().to_public())


# --- the parent: runs them, measures, prints and writes the figures ----------------------------


def server_cpu_s():
    """CPU seconds FerretDB (the bench lab's, from its pid file) has used so far."""
    pid_file = ROOT / ".lab" / os.environ.get("LAB_NAME", "tasky-bench") / "ferretdb/ferretdb.pid"
    try:
        fields = (Path("/proc") / pid_file.read_text().strip() / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(method, proxy, client, scratch, secret, port):
    work = os.path.join(scratch, method, "work")
    os.makedirs(work)
    now = datetime.datetime.now(datetime.timezone.utc)
    env = dict(
        os.environ,
        PATH=f"{TOOLS}:{BENCH_VENV / 'bin'}:{os.environ['PATH']}",
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=proxy.endpoint,
        # RGW 16 takes no trailing checksums (the CLI's newer default); as for the engine's boto3.
        AWS_REQUEST_CHECKSUM_CALCULATION="when_required",
        AWS_RESPONSE_CHECKSUM_VALIDATION="when_required",
        PORT=str(port),
        SECRET=secret,
        WORK=work,
        BUCKET=BUCKET,
        NAME=now.strftime("mongodb-backup-%Y%m%d-%H%M%S"),
        DAY=now.strftime("%Y-%m-%d"),
    )
    if method in SCRIPTS:
        cmd = ["bash", "-euo", "pipefail", "-c", SCRIPTS[method]]
    else:
        cmd = [sys.executable, __file__, "--child", method, proxy.endpoint, work, secret, str(port)]
    peak = {"bytes": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["bytes"] = max(peak["bytes"], dir_bytes(work))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sent_before, server_before = proxy.counted, server_cpu_s()
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    sampler.start()
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    if status != 0:
        sys.exit(f"{method} failed (status {status}); logs in {os.path.dirname(work)}")
    key = out.decode().strip().splitlines()[-1]
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "server_cpu_s": server_cpu_s() - server_before,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "extra_disk_mib": peak["bytes"] / MIB,
        "uploaded_mib": (proxy.counted - sent_before) / MIB,
        "archive_mib": client.head_object(Bucket=BUCKET, Key=key)["ContentLength"] / MIB,
    }


def ensure_backup_user(port):
    import pymongo

    client = pymongo.MongoClient(
        host="127.0.0.1", port=port, username=SETUP_USER, password=SETUP_PASSWORD, directConnection=True
    )
    if client.admin.command("usersInfo", BACKUP_USER)["users"]:
        client.admin.command("updateUser", BACKUP_USER, pwd=BACKUP_PASSWORD)
    else:
        client.admin.command("createUser", BACKUP_USER, pwd=BACKUP_PASSWORD, roles=[])
    return client


def summarise(rounds):
    """Per method: the median of each figure over the rounds, and the fastest wall time."""
    figures = {}
    for method, runs in rounds.items():
        figures[method] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        figures[method]["wall_s_min"] = min(run["wall_s"] for run in runs)
    return figures


def table(result):
    methods, dump_mib = result["methods"], result["dump_mib"]
    peers = [m for m in PEERS if m in methods]
    fastest = min(peers, key=lambda m: methods[m]["wall_s"]) if peers else None
    cores = result["machine"]["cores"]
    lines = [
        f"Dump: {dump_mib:.0f} MiB of BSON (mongodump's folder), database `{DATABASE}` in the bench lab's FerretDB; "
        f"{result['rounds']} round(s), medians (wall also min); fastest peer: {fastest or 'none run'}",
        "",
        "| method | wall s (min) | vs fastest peer | CPU s | cores busy | server CPU s | peak RSS MiB "
        "| extra disk MiB | uploaded MiB | archive MiB | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for method in METHODS:
        if method not in methods:
            continue
        f = methods[method]
        versus = f"{f['wall_s'] / methods[fastest]['wall_s']:.2f}" if fastest else "-"
        busy = (f["cpu_s"] + f["server_cpu_s"]) / f["wall_s"]
        lines.append(
            f"| {method} | {f['wall_s']:.1f} ({f['wall_s_min']:.1f}) | {versus} | {f['cpu_s']:.1f} "
            f"| {busy:.2f} of {cores} | {f['server_cpu_s']:.1f} | {f['peak_rss_mib']:.0f} | {f['extra_disk_mib']:.0f} "
            f"| {f['uploaded_mib']:.0f} | {f['archive_mib']:.0f} | {f['archive_mib'] / dump_mib:.3f} |"
        )
    for encrypted, plain in ENCRYPTED.items():
        if encrypted in methods and plain in methods:
            ratio = methods[encrypted]["wall_s"] / methods[plain]["wall_s"]
            lines.append(f"\n{encrypted} (encrypted, signed) against {plain}: wall {ratio:.3f}x")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=int(os.environ.get("BENCH_SIZE_MIB", "1024")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    parser.add_argument("--methods", default=os.environ.get("BENCH_METHODS", ",".join(METHODS)))
    parser.add_argument("--out", default=str(ROOT / ".lab/bench.json"))
    parser.add_argument("--child", nargs=5, metavar=("METHOD", "ENDPOINT", "WORK", "SECRET", "PORT"))
    args = parser.parse_args()
    if args.child:
        child_pipeline(*args.child)
        return

    from outage_proxy import OutageProxy  # here only counting bytes: it never goes down
    from todo_data import load

    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        sys.exit(f"unknown method(s) {', '.join(sorted(unknown))}; known: {', '.join(METHODS)}")
    port = int(os.environ.get("LAB_FERRETDB_PORT", "27696"))
    s3_port = os.environ.get("LAB_S3_PORT", "7500")
    mongo = ensure_backup_user(port)
    started = time.monotonic()
    seconds, loaded = load(mongo, args.size_mib)
    print(
        f"data: {loaded / MIB:.0f} MiB of todo documents in {DATABASE} "
        + (f"(loaded now in {seconds:.0f} s)" if seconds else "(loaded before; reused)"),
        file=sys.stderr,
    )
    meta = mongo[DATABASE].bench_meta.find_one({"_id": "loaded"})
    proxy = OutageProxy(s3_port, fail_after_bytes=float("inf"), down_for=0)
    client = s3_client(f"http://127.0.0.1:{s3_port}")
    if BUCKET not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    scratch = tempfile.mkdtemp(prefix="tasky-bench-", dir="/var/tmp")
    secret = os.path.join(scratch, "mongodump.yaml")
    Path(secret).write_text(f"password: {BACKUP_PASSWORD}\n")
    os.chmod(secret, 0o600)
    rounds = {m: [] for m in methods}
    dump_bytes = None
    try:
        for number in range(args.rounds):
            order = methods[number % len(methods) :] + methods[: number % len(methods)]  # rotate
            for method in order:
                empty_bucket(client)
                shutil.rmtree(os.path.join(scratch, method), ignore_errors=True)
                figures = measure(method, proxy, client, scratch, secret, port)
                rounds[method].append(figures)
                if method == "seed" and dump_bytes is None:
                    dump_bytes = int(Path(scratch, method, "dump-bytes").read_text())
                shown = {k: round(v, 1) for k, v in figures.items()}
                print(f"round {number + 1}: {method}: {json.dumps(shown)}", file=sys.stderr, flush=True)
    finally:
        empty_bucket(client)
        shutil.rmtree(scratch, ignore_errors=True)
        proxy.close()
    result = {
        "dump_mib": (dump_bytes or meta["bytes"]) / MIB,
        "methods": summarise(rounds),
        "rounds": args.rounds,
        "runs": rounds,
        "loaded_mib": loaded / MIB,
        "load_s": meta.get("seconds"),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "cores": len(os.sched_getaffinity(0)),
            "cpu": platform.processor() or platform.machine(),
            "kernel": platform.release(),
            "note": "S3 (Ceph RGW), the server (FerretDB) and the methods share this machine's cores; "
            "other labs may run beside it",
        },
        "bench_s": round(time.monotonic() - started, 1),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(table(result))
    print(f"\n(written to {args.out})")


if __name__ == "__main__":
    main()
