"""A real S3 outage: the lab's gateway process (radosgw) killed with SIGKILL mid-upload and
started again a minute later, its OSD keeping every object. Measured before the engine waited
out outages: a 5 s outage was survived by botocore's retries, a 15 s one failed the night's
backup after 22 s. The parts are in memory: the run waits (s3_patience_s, 300 s by default),
says when S3 went away and came back, and the backup completes and verifies.

Slow by nature (over a minute): the outage is a minute long, as the issue asks.
"""

import json
import os
import re
import subprocess
import sys
import time

from conftest import ROOT, S3_PORT, run_engine, seed_bulk, write_config
from outage_proxy import OutageProxy

LAB_ENV = {k: v for k, v in os.environ.items() if k.startswith("LAB_")}


def lab_s3(action):
    subprocess.run([str(ROOT / "lab/s3.sh"), action], check=True, env={**os.environ, **LAB_ENV}, timeout=120)


def test_a_minute_without_s3_mid_upload_is_waited_out(s3, engine_config, app_db):
    path, config = engine_config
    seed_bulk(app_db, 24 << 20)
    proxy = OutageProxy(S3_PORT, rate=2 << 20)  # a slow link: the outage lands mid-upload
    write_config(path, {**config, "endpoint_url": proxy.endpoint})
    engine = subprocess.Popen(
        [sys.executable, "-m", "tasky_backup", "backup", "--config", str(path)],
        cwd=ROOT / "module_utils",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = False
    try:
        deadline = time.monotonic() + 120
        while not s3.list_multipart_uploads(Bucket=config["bucket"]).get("Uploads"):
            assert time.monotonic() < deadline and engine.poll() is None, "the upload never started"
            time.sleep(0.2)
        lab_s3("rgw-kill")
        killed = True
        time.sleep(60)
        lab_s3("rgw-start")
        killed = False
        out, err = engine.communicate(timeout=600)
    finally:
        if killed:
            lab_s3("rgw-start")
        proxy.close()
        if engine.poll() is None:
            engine.kill()
    assert engine.returncode == 0, out + err
    with open(config["log_file"], encoding="utf-8") as handle:
        log = handle.read()
    assert "S3 went away during" in log
    waited = [int(s) for s in re.findall(r"S3 came back after (\d+) s during", log)]
    assert waited and max(waited) >= 55, log
    key = json.loads(out.splitlines()[-1][len("SUMMARY ") :])["key"]
    write_config(path, config)  # straight to S3 again, without the slow link
    verify = run_engine("verify", "--config", str(path), "--key", key)
    assert verify.returncode == 0 and json.loads(verify.stdout)["valid"], verify.stdout
