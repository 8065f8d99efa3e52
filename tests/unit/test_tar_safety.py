"""formats/targz.py: unpack, which restores and drills run on a downloaded tar.gz: it refuses
'..', absolute paths, symlinks, hardlinks and devices, naming the member, and extracts a good
archive; read_through lists a good one and refuses what is not a tar.gz. Fixtures are built
here with tarfile."""

import io
import tarfile

import pytest
from tasky_backup.base.errors import BackupError
from tasky_backup.formats.targz import TarGz, dump_summary, unpack

KEY = "backups/mongodb-backup-20261125-020000.tar.gz"
TOP = "mongodb-backup-20261125-020000"


def member(name, kind=tarfile.REGTYPE, data=b"", link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    return info, data


def tar_gz(*members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


GOOD = (
    member(TOP, tarfile.DIRTYPE),
    member(f"{TOP}/tasky", tarfile.DIRTYPE),
    member(f"{TOP}/tasky/todos.bson", data=b"\x05\x00\x00\x00\x00"),
    member(f"{TOP}/tasky/todos.metadata.json", data=b'{"indexes": []}'),
)


def test_a_good_archive_is_extracted(tmp_path):
    dest = tmp_path / "dump"
    unpack(io.BytesIO(tar_gz(*GOOD)), KEY, str(dest))
    assert (dest / TOP / "tasky" / "todos.bson").read_bytes() == b"\x05\x00\x00\x00\x00"
    assert (dest / TOP / "tasky" / "todos.metadata.json").read_text() == '{"indexes": []}'
    assert dump_summary(str(dest / TOP)) == (2, 20)


@pytest.mark.parametrize(
    "bad",
    [
        member(f"{TOP}/../escaped.bson", data=b"x"),
        member("../escaped.bson", data=b"x"),
        member(f"{TOP}/tasky/../../escaped.bson", data=b"x"),
        member(f"{TOP}/tasky/link.bson", tarfile.SYMTYPE, link="/etc/passwd"),
        member(f"{TOP}/tasky/near.bson", tarfile.SYMTYPE, link="todos.bson"),
        member(f"{TOP}/tasky/hard.bson", tarfile.LNKTYPE, link=f"{TOP}/tasky/todos.bson"),
        member(f"{TOP}/tasky/dev", tarfile.CHRTYPE),
        member(f"{TOP}/tasky/disk", tarfile.BLKTYPE),
        member(f"{TOP}/tasky/fifo", tarfile.FIFOTYPE),
    ],
    ids=[
        "dotdot-inside",
        "dotdot-first",
        "dotdot-deep",
        "symlink",
        "relative-symlink",
        "hardlink",
        "char-device",
        "block-device",
        "fifo",
    ],
)
def test_an_unsafe_member_is_refused_by_name_and_nothing_escapes(tmp_path, bad):
    dest = tmp_path / "a" / "dump"
    with pytest.raises(BackupError) as caught:
        unpack(io.BytesIO(tar_gz(*GOOD, bad)), KEY, str(dest))
    assert str(caught.value) == f"{KEY} holds an unsafe member, refused: {bad[0].name}"
    assert not (tmp_path / "a" / "escaped.bson").exists() and not (tmp_path / "escaped.bson").exists()
    names = {path.name for path in dest.rglob("*")}
    assert names <= {TOP, "tasky", "todos.bson", "todos.metadata.json"}  # only what came before it


def test_an_absolute_path_is_refused_by_name(tmp_path):
    target = tmp_path / "escaped.bson"
    with pytest.raises(BackupError, match=f"^{KEY} holds an unsafe member, refused: {target}$"):
        unpack(io.BytesIO(tar_gz(*GOOD, member(str(target), data=b"x"))), KEY, str(tmp_path / "dump"))
    assert not target.exists()


def test_read_through_lists_the_bson_files():
    reading = TarGz().read_through(KEY, io.BytesIO(tar_gz(*GOOD)))
    assert (reading.members, reading.collections, reading.problems) == (4, [f"{TOP}/tasky/todos.bson"], [])


def test_read_through_of_an_archive_without_bson_is_a_problem():
    reading = TarGz().read_through(KEY, io.BytesIO(tar_gz(member(TOP, tarfile.DIRTYPE))))
    assert reading.problems == ["the archive holds no .bson file"]


def test_read_through_refuses_what_is_not_a_tar_gz():
    with pytest.raises(BackupError, match=f"^{KEY} is not a readable tar.gz: "):
        TarGz().read_through(KEY, io.BytesIO(b"not gzip at all"))
