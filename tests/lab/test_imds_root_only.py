"""The firewall script that keeps the instance metadata service (and the instance role's
credentials) for root only, run for real with iptables in a network namespace of its own: a
stand-in metadata service on 169.254.169.254 there, curl as root and as nobody. This machine's
own firewall is never touched. Needs root and unshare (as the lab does)."""

import os
import shutil
import subprocess

import pytest
from conftest import ROOT

SCRIPT = ROOT / "roles/mongodb_backup/files/imds-root-only.sh"

# Inside `unshare -n`: loopback up, the metadata address on it, a web server there as the
# stand-in metadata service, then the steps of each test; prints one line per curl.
NAMESPACE = """
set -u
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
python3 -m http.server --bind 169.254.169.254 8099 >/dev/null 2>&1 &
server=$!
for i in $(seq 50); do curl -s -o /dev/null --max-time 1 http://169.254.169.254:8099/ && break; sleep 0.1; done
reach() {  # who: root or nobody
    if [ "$1" = root ]; then run=""; else run="setpriv --reuid=65534 --regid=65534 --clear-groups"; fi
    code=$($run curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://169.254.169.254:8099/)
    echo "$2 $1 $code"
}
STEPS
kill $server
"""


def in_namespace(steps):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("iptables"):
        pytest.fail("needs root, unshare and iptables (the lab's machine has them)")
    script = NAMESPACE.replace("STEPS", steps).replace("SCRIPT", str(SCRIPT))
    cmd = ["unshare", "-n", "sh", "-c", script]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    lines = [line.split() for line in proc.stdout.splitlines() if line.count(" ") == 2]
    return {(step, who): code for step, who, code in lines}, proc


def test_only_the_named_users_reach_the_metadata_service():
    got, proc = in_namespace(
        """
reach root before; reach nobody before
sh SCRIPT start; reach root started; reach nobody started
sh SCRIPT start; iptables -w -S OUTPUT | grep -c TASKY_IMDS | sed 's/^/jumps x /'
IMDS_USERS="root nobody" sh SCRIPT start; reach nobody allowed
sh SCRIPT stop; reach nobody stopped
"""
    )
    assert got[("before", "root")] == got[("before", "nobody")] == "200", proc.stdout + proc.stderr
    assert got[("started", "root")] == "200"
    assert got[("started", "nobody")] == "000", "a user other than root still reaches the credentials"
    assert got[("jumps", "x")] == "1", "a second start added a second jump"
    assert got[("allowed", "nobody")] == "200"
    assert got[("stopped", "nobody")] == "200", "stop left the rules behind"


def test_a_bad_action_changes_nothing():
    got, proc = in_namespace("sh SCRIPT restart; echo status x $?; reach nobody after")
    assert got[("status", "x")] == "2"
    assert "imds-root-only: start or stop, not restart" in proc.stderr
    assert got[("after", "nobody")] == "200"
