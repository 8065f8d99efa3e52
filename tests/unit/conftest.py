"""The fast unit tier: pure logic of the backup engine (module_utils/tasky_backup) and the roles'
filters, on fixture bytes and files in tmp_path only. No lab, no S3, no MongoDB, no ansible run,
no socket: `make unit` runs it in seconds."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE_UTILS = ROOT / "module_utils"
if str(MODULE_UTILS) not in sys.path:
    sys.path.insert(0, str(MODULE_UTILS))

from tasky_backup.base.settings import check_settings  # noqa: E402 - needs the path above


@pytest.fixture
def settings_in(tmp_path):
    """Settings with a bucket and every path of the engine under tmp_path (changes applied)."""

    def make(**changes):
        paths = {
            "work_dir": str(tmp_path / "work"),
            "lock_file": str(tmp_path / "run" / "backup.lock"),
            "log_file": str(tmp_path / "backup.log"),
            "state_file": str(tmp_path / "state.json"),
            "mongodump_config": str(tmp_path / "mongodump.yaml"),
        }
        return check_settings({"bucket": "tasky-backups", **paths, **changes})

    return make
