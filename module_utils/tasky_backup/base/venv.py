"""The engine's own Python environment on the host, for the Ansible module.

The mongodb_backup role installs the engine's libraries (boto3, pymongo; pinned) into a venv
made from the host's python3, and cron runs the engine with that venv's Python. The module runs
under the Python Ansible picks on the host, usually the same python3: it adds the venv's
site-packages to its path, so `ansible mongodb -m tasky_backup` needs nothing else.
"""

import os
import sys


def use_engine_venv(settings):
    """Adds the configured venv's site-packages to sys.path; True if it did."""
    venv = settings.venv
    if not venv:
        return False
    site = os.path.join(venv, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
    if not os.path.isdir(site):
        return False
    if site not in sys.path:
        sys.path.insert(0, site)
    return True
