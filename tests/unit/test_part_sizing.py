"""s3/multipart.py: the part size of an upload (part_size_for) and how parts grow past part 5,000
(grown_part_size), so any archive fits S3's 10,000 parts of at most 5 GiB; and MultipartWriter
cutting a stream into those parts (a recording stand-in for the S3 client, no network)."""

import pytest
from tasky_backup.base.errors import BackupError
from tasky_backup.s3 import multipart as upload
from tasky_backup.s3.meta import ObjectMeta
from tasky_backup.s3.multipart import MAX_PART, MAX_PARTS, MIB, grown_part_size, part_size_for

GIB, TIB = 1 << 30, 1 << 40


def test_part_size_keeps_any_archive_under_10000_parts():
    mib, gib, tib = 1 << 20, 1 << 30, 1 << 40
    assert part_size_for(1 * gib, 8) == 8 * mib
    assert part_size_for(75 * gib, 8) == 8 * mib  # still fits 8 MiB parts
    for size in (100 * gib, 1 * tib, int(4.9 * tib)):
        part = part_size_for(size, 8)
        assert part % mib == 0 and part <= 5 * gib
        assert -(-int(size * 1.01) // part) < MAX_PARTS, size
    with pytest.raises(BackupError, match="over S3's 5 TiB limit"):
        part_size_for(5 * tib, 8)


@pytest.mark.parametrize("expected", [0, 1, 10 * GIB, 80 * GIB, 500 * GIB, 2 * TIB, int(4.9 * TIB)])
@pytest.mark.parametrize("configured", [5, 8, 64, 512])
def test_the_part_size_is_whole_mib_at_least_the_configured_and_fits(expected, configured):
    part = part_size_for(expected, configured)
    assert part % MIB == 0 and configured * MIB <= part <= MAX_PART
    bound = int(expected * 1.01) + MIB  # gzip of incompressible data grows a little
    assert -(-bound // part) <= MAX_PARTS - 100  # with 100 parts to spare


def test_the_part_size_is_the_smallest_that_fits():
    part = part_size_for(2 * TIB, 8)
    assert -(-(int(2 * TIB * 1.01) + MIB) // (part - MIB)) > MAX_PARTS - 100


def test_over_5_tib_is_refused_naming_the_limit():
    with pytest.raises(BackupError, match=r"the archive could reach \d+ bytes, over S3's 5 TiB limit for one object"):
        part_size_for(6 * TIB, 8)


def test_parts_grow_when_the_dump_outruns_its_estimate(monkeypatch):
    """In the archive format the dump's size is dbStats' estimate: the part size is chosen from
    it (part_size_for) and a dump bigger than the estimate still fits S3's 10,000 parts because
    the parts double past part 5,000 (here scaled down: past part 3, every 2 parts)."""
    mib = upload.MIB
    assert upload.part_size_for(0, 8) == 8 * mib
    assert upload.part_size_for(1 << 40, 8) == 107 * mib  # 1 TiB estimate: under 9,900 parts of 107 MiB
    assert upload.part_size_for(1 << 40, 8) * 9900 > (1 << 40) * 1.01
    # A right estimate never grows the parts; one 6 times too small still fits.
    part = upload.part_size_for(100 << 30, 8)
    assert all(upload.grown_part_size(n, part) == part for n in range(1, 5001))
    assert sum(upload.grown_part_size(n, part) for n in range(1, 10001)) > 6 * (100 << 30)
    assert upload.grown_part_size(10000, 8 * mib) == 256 * mib

    monkeypatch.setattr(upload, "GROW_FROM", 3)
    monkeypatch.setattr(upload, "GROW_EVERY", 2)
    client = PartRecorder()
    # (The lab version passed {} as the meta, which has no to_s3(): an ObjectMeta it is.)
    writer = upload.MultipartWriter(client, "b", "k", 5 * mib, 2, ObjectMeta(), 0)
    for _ in range(70):
        writer.write(b"x" * mib)
    writer.complete()
    sizes = [client.sizes[n] // mib for n in sorted(client.sizes)]
    assert sizes == [5, 5, 5, 10, 10, 20, 15], sizes


class PartRecorder:
    """Stands in for boto3's S3 client: records the parts a MultipartWriter sends."""

    def __init__(self):
        self.sizes = {}

    def create_multipart_upload(self, **_kwargs):
        return {"UploadId": "u"}

    def upload_part(self, PartNumber, Body, **_kwargs):
        self.sizes[PartNumber] = len(Body)
        return {"ETag": f'"{PartNumber}"'}

    def complete_multipart_upload(self, **_kwargs):
        return {}


def test_parts_keep_their_size_up_to_part_5000_then_double_every_1000():
    size = 8 * MIB
    assert {grown_part_size(n, size) for n in (1, 2, 4999, 5000)} == {size}
    assert grown_part_size(5001, size) == grown_part_size(6000, size) == 2 * size
    assert grown_part_size(6001, size) == grown_part_size(7000, size) == 4 * size
    assert grown_part_size(8001, size) == 16 * size
    assert grown_part_size(9001, size) == grown_part_size(10000, size) == 32 * size


def test_grown_parts_stop_at_5_gib():
    assert grown_part_size(10000, 512 * MIB) == MAX_PART
    assert grown_part_size(5001, 4 * GIB) == MAX_PART
    assert max(grown_part_size(n, 512 * MIB) for n in range(1, MAX_PARTS + 1)) == MAX_PART


def test_10000_parts_hold_67000_first_size_parts():
    assert sum(grown_part_size(n, 1) for n in range(1, MAX_PARTS + 1)) == 67000
    assert 5000 * 1 + 1000 * (2 + 4 + 8 + 16 + 32) == 67000
