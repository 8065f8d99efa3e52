#!/usr/bin/env python3
"""Builds the backup engine (the collection's module_utils/tasky_backup package, subfolders
included) as a wheel on the control node, for the mongodb_backup role to install into the
engine's venv on each host: one file over the connection, one `pip install`, and pip's own
record of the installed files, so an upgrade leaves no stray file behind.

    engine_wheel.py SOURCE_DIR OUT_DIR    prints {"version": ..., "wheel": path} as JSON

The version is the sha256 of the package's files (names and contents), so the role compares
it with the version installed on the host and installs only when they differ. The wheel is
reproducible (fixed timestamps and modes) and written to OUT_DIR, which must be this user's
and private: a wheel planted there by someone else would run as root on every host.
"""

import base64
import hashlib
import json
import os
import stat
import sys
import tempfile
import zipfile

DISTRIBUTION = "tasky_backup_engine"
STAMP = (1980, 1, 1, 0, 0, 0)


def package_files(source):
    """(path inside the wheel, file path) of every .py file of the package, sorted."""
    top = os.path.basename(os.path.normpath(source))
    found = []
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                found.append((os.path.join(top, os.path.relpath(path, source)).replace(os.sep, "/"), path))
    return found


def version_of(files):
    digest = hashlib.sha256()
    for arcname, path in files:
        with open(path, "rb") as handle:
            digest.update(arcname.encode() + b"\0" + hashlib.sha256(handle.read()).digest())
    return f"0+{digest.hexdigest()[:32]}"


def record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def private_dir(path):
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise SystemExit(f"{path} must be a directory of this user that nobody else can read or write")
    return path


def build(source, out_dir):
    files = package_files(source)
    if not files:
        raise SystemExit(f"no Python package at {source}")
    version = version_of(files)
    wheel = os.path.join(private_dir(out_dir), f"{DISTRIBUTION}-{version}-py3-none-any.whl")
    if os.path.exists(wheel):
        return version, wheel
    info = f"{DISTRIBUTION}-{version}.dist-info"
    entries = []
    for arcname, path in files:
        with open(path, "rb") as handle:
            entries.append((arcname, handle.read()))
    metadata = f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: {version}\nRequires-Python: >=3.9\n"
    wheel_meta = "Wheel-Version: 1.0\nGenerator: engine_wheel.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries += [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel_meta.encode())]
    record = [record_line(name, data) for name, data in entries] + [f"{info}/RECORD,,"]
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".whl.tmp")
    os.close(fd)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            item = zipfile.ZipInfo(name, STAMP)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(item, data)
    os.replace(tmp, wheel)
    return version, wheel


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    found_version, found_wheel = build(sys.argv[1], sys.argv[2])
    print(json.dumps({"version": found_version, "wheel": found_wheel}))
