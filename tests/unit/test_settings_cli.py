"""`python -m tasky_backup check --config FILE`, as the role runs it to validate backup.json
before writing it: exit status 2 naming a bad option, 0 for a good file. Spawns only Python."""

import json
import subprocess
import sys
from pathlib import Path

MODULE_UTILS = Path(__file__).resolve().parents[2] / "module_utils"


def check(path):
    cmd = [sys.executable, "-m", "tasky_backup", "check", "--config", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60, cwd=MODULE_UTILS)


def test_a_good_file_passes(tmp_path):
    path = tmp_path / "backup.json"
    path.write_text(json.dumps({"bucket": "tasky-backups", "format": "archive", "databases": ["tasky"]}))
    proc = check(path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{path}: ok\n", "")


def test_a_bad_option_exits_2_naming_it(tmp_path):
    path = tmp_path / "backup.json"
    path.write_text(json.dumps({"bucket": "tasky-backups", "compress_level": 11}))
    proc = check(path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"tasky-backup: {path}: compress_level must be an integer from 1 to 9, got 11\n"


def test_a_missing_or_broken_file_exits_2(tmp_path):
    missing = check(tmp_path / "nope.json")
    assert missing.returncode == 2 and f"config file {tmp_path / 'nope.json'} not found" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2]")
    proc = check(broken)
    assert proc.returncode == 2 and "must hold a JSON object" in proc.stderr
