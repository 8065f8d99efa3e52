"""Mutants: one-line breaks of a safety claim, each of which its test must catch (`make mutants`).

For each mutant: a copy of the working tree (the lab's builds and the venv linked, not copied)
gets exactly one line changed, the test that guards the claim runs against the test lab, and it
must FAIL. The copy is thrown away. A mutant that survives (its test passes) is a claim no test
holds: the run exits 1 naming it. First the guarding tests run once on an unchanged copy and must
pass (else a copy that cannot run would "catch" every mutant). About 2 minutes, so not part of
`make test`; run it after changing a guarded line or its test.
"""

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = "module_utils/tasky_backup/"
CLAIMS = "tests/lab/test_safety_claims.py::"


@dataclasses.dataclass(frozen=True)
class Mutant:
    claim: str
    path: str
    line: str  # exactly once in the file
    broken: str
    test: str


MUTANTS = [
    Mutant(
        "check mode runs no writing action",
        ENGINE + "actions.py",
        "    if check and action.writes:",
        "    if check and action.writes and action.name != 'restore':",
        CLAIMS + "test_check_mode_of_a_restore_changes_nothing_on_the_server",
    ),
    Mutant(
        "a restore holds the lock",
        ENGINE + "ops/restore.py",
        "    with Lock(settings.lock_file):",
        "    with contextlib.nullcontext():",
        CLAIMS + "test_a_backup_started_during_a_restore_exits_75_and_leaves_the_restores_files",
    ),
    Mutant(
        "min_free_percent decides",
        ENGINE + "base/space.py",
        "    keep = total * settings.min_free_percent / 100",
        "    keep = total * settings.min_free_percent / 200",
        CLAIMS + "test_the_free_space_margin_decides_the_outcome",
    ),
    Mutant(
        "a restore checks room before it downloads",
        ENGINE + "formats/restore_into.py",
        "    if room:",
        "    if False:",
        CLAIMS + "test_a_restore_without_room_for_its_download_is_refused_before_downloading",
    ),
    Mutant(
        "a skipped run publishes no metrics",
        ENGINE + "recorded.py",
        '    if result.status != "skipped":  # a member that is not the chosen one reports nothing',
        "    if True:",
        CLAIMS + "test_a_member_that_is_not_the_chosen_one_skips_without_metrics",
    ),
    Mutant(
        "a failed archive run takes back its writes",
        ENGINE + "ops/backup.py",
        "            run.rollback.undo()",
        "            pass",
        CLAIMS + "test_the_archive_format_takes_back_its_writes_when_s3_fails_after_the_upload",
    ),
    Mutant(
        "SIGTERM inside botocore still ends the run",
        ENGINE + "recorded.py",
        '        raise Ending(f"terminated by {signal.Signals(signum).name}")',
        '        raise Terminated(f"terminated by {signal.Signals(signum).name}")',
        CLAIMS + "test_sigterm_during_the_archive_formats_copies_takes_back_its_writes",
    ),
    Mutant(
        "an oplog backup is replayed",
        ENGINE + "formats/restore_into.py",
        "        return self.manifest is not None and self.manifest.oplog and self.restorable.has_oplog",
        "        return False",
        CLAIMS + "test_an_oplog_backup_reaches_mongorestore_with_oplog_replay_in_the_archive_format",
    ),
    Mutant(
        "an oplog is replayed only when the signed manifest says so",
        ENGINE + "formats/restore_into.py",
        "        return self.manifest is not None and self.manifest.oplog and self.restorable.has_oplog",
        "        return self.restorable.has_oplog",
        CLAIMS + "test_an_oplog_backup_reaches_mongorestore_with_oplog_replay_in_the_tar_gz_format",
    ),
    Mutant(
        "a drill fails on a missing index",
        ENGINE + "mongo/compare.py",
        "    if missing:",
        "    if False:",
        CLAIMS + "test_a_drill_fails_when_an_index_did_not_come_back",
    ),
    Mutant(
        "retries count the first call",
        ENGINE + "s3/client.py",
        '        retries={"mode": "standard", "total_max_attempts": settings.retries},',
        '        retries={"mode": "standard", "max_attempts": settings.retries},',
        CLAIMS + "test_botocore_retries_a_throttled_or_503_answer_and_never_access_denied",
    ),
    Mutant(
        "the thread count reaches zlib-ng",
        ENGINE + "formats/gzip.py",
        "threads=compress_threads(settings),",
        "threads=2,",
        CLAIMS + "test_the_compression_thread_count_reaches_zlib_ng",
    ),
    Mutant(
        "the TLS Deny is in the policy",
        "roles/backup_bucket/vars/main.yml",
        "  - Sid: DenyRequestsWithoutTLS\n    Effect: Deny",
        "  - Sid: DenyRequestsWithoutTLS\n    Effect: Allow",
        CLAIMS + "test_the_tls_deny_statement_is_rendered_and_evaluated_on_moto",
    ),
]

LINKED = {".venv", ".lab", ".git"}


def copy_tree(into):
    """The working tree as it is now (uncommitted changes too), the big directories linked."""
    for entry in ROOT.iterdir():
        target = into / entry.name
        if entry.name in LINKED:
            target.symlink_to(entry)
        elif entry.is_dir():
            shutil.copytree(entry, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(entry, target)


def pytest_in(tree, *tests):
    env = {**os.environ, "ANSIBLE_CONFIG": str(tree / "ansible.cfg"), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, (proc.stdout.strip().splitlines() or ["no output"])[-1]


def control():
    """The guarding tests pass on an unchanged copy: a mutant is caught by its claim's test, not
    by a copy that cannot run at all."""
    with tempfile.TemporaryDirectory(prefix="tasky-mutant-") as scratch:
        copy_tree(Path(scratch))
        return pytest_in(Path(scratch), *sorted({mutant.test for mutant in MUTANTS}))


def run(mutant):
    with tempfile.TemporaryDirectory(prefix="tasky-mutant-") as scratch:
        tree = Path(scratch)
        copy_tree(tree)
        path = tree / mutant.path
        text = path.read_text()
        if text.count(mutant.line) != 1:
            return "stale", f"the line is not once in {mutant.path}: {mutant.line!r}"
        path.write_text(text.replace(mutant.line, mutant.broken))
        if mutant.broken.lstrip().startswith("with contextlib.") and "import contextlib" not in text:
            path.write_text("import contextlib\n" + path.read_text())
        returncode, tail = pytest_in(tree, mutant.test)
        return ("caught" if returncode == 1 else "SURVIVED" if returncode == 0 else "error"), tail


def main():
    returncode, tail = control()
    print(f"{'control':8} the guarding tests on an unchanged copy: {tail}", flush=True)
    if returncode != 0:
        return 1
    survived = 0
    for mutant in MUTANTS:
        started = time.monotonic()
        verdict, tail = run(mutant)
        survived += verdict != "caught"
        print(f"{verdict:8} {mutant.claim} ({time.monotonic() - started:.0f} s): {tail}", flush=True)
    print(f"{len(MUTANTS) - survived} of {len(MUTANTS)} mutants caught")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
