"""actions.py: the one action table. Check mode says what each writing action would do and runs
nothing; the module's and the command line's choices come from the table; an Outcome's exit
status. With it, what the table's results keep: ops/drill.py summarised() and base/results.py
Result.as_dict (OPTIONAL and HIDDEN fields)."""

import ast
import dataclasses
from pathlib import Path

import pytest
import yaml
from tasky_backup.__main__ import arguments
from tasky_backup.actions import ACTIONS, Outcome, Request, perform
from tasky_backup.base.results import Ended, Result
from tasky_backup.ops.drill import SUMMARY_DIFFERENCES, summarised

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("action", "request_", "would", "changed"),
    [
        ("backup", Request(), "would backup s3://tasky-backups/backups/mongodb-backup-*", True),
        (
            "restore",
            Request(key="mongodb-backup-20261125-020000.tar.gz", drop=True),
            "would restore s3://tasky-backups/backups/mongodb-backup-20261125-020000.tar.gz",
            True,
        ),
        ("catalogue", Request(), "would catalogue s3://tasky-backups/backups/index.html", True),
        ("drill", Request(), "would drill s3://tasky-backups/backups/latest.tar.gz into scratch databases", False),
    ],
)
def test_check_mode_says_what_it_would_do_and_runs_nothing(settings_in, tmp_path, action, request_, would, changed):
    outcome = perform(action, settings_in(), request_, check=True)
    assert outcome == Outcome({}, True, changed, would)
    assert outcome.exit_status == 0
    assert list(tmp_path.iterdir()) == []  # no log, no lock, no state file, no work directory


def test_check_mode_follows_the_format_and_the_key(settings_in, tmp_path):
    settings = settings_in(format="archive", prefix="db/")
    assert (
        perform("drill", settings, check=True).message
        == "would drill s3://tasky-backups/db/latest.archive.gz into scratch databases"
    )
    assert perform("restore", settings, Request(key="db/x.archive.gz"), check=True).message == (
        "would restore s3://tasky-backups/db/x.archive.gz"
    )
    assert list(tmp_path.iterdir()) == []


def test_only_writing_actions_have_a_check_mode_message():
    writing = {name for name, action in ACTIONS.items() if action.writes}
    assert writing == {"backup", "drill", "restore", "catalogue"}
    assert all(ACTIONS[name].would for name in writing)
    assert {"verify", "list", "status"} == set(ACTIONS) - writing


def module_documentation():
    """The DOCUMENTATION of library/tasky_backup.py, read without importing the module."""
    tree = ast.parse((ROOT / "library" / "tasky_backup.py").read_text())
    (text,) = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["DOCUMENTATION"]
    ]
    return yaml.safe_load(text)


def test_the_modules_choices_come_from_the_table():
    documented = module_documentation()["options"]["state"]
    assert documented["choices"] == [action.name for action in ACTIONS.values() if action.module]
    assert documented["default"] == "backup" and "backup" in ACTIONS
    source = (ROOT / "library" / "tasky_backup.py").read_text()
    assert '"choices": [a.name for a in ACTIONS.values() if a.module]' in source


def test_the_command_line_offers_the_table_and_check():
    for name in [*ACTIONS, "check"]:
        assert arguments([name]).action == name
    with pytest.raises(SystemExit):
        arguments(["bogus"])
    args = arguments(["restore", "--key", "k", "--drop", "--check"])
    assert (args.key, args.drop, args.check, args.config) == ("k", True, True, "/etc/mongodb-backup/backup.json")


def test_an_outcomes_exit_status():
    assert Outcome(None, False, message="locked by pid 7", locked=True).exit_status == 75
    assert Outcome(None, False, message="failed").exit_status == 1
    assert Outcome({"status": "success"}, True, True).exit_status == 0
    assert Outcome({"status": "skipped"}, True).exit_status == 0


def test_the_tables_verdicts_on_results():
    backup = ACTIONS["backup"]
    assert backup.ok({"status": "skipped"}) and not backup.ok({"status": "failed"})
    assert backup.changed({"status": "success"}) and not backup.changed({"status": "skipped"})
    assert backup.failure({"status": "failed", "error": "disk full"}) == "backup failed: disk full"
    drill = ACTIONS["drill"]
    assert drill.failure({"status": "failed", "key": "k", "differences": ["a", "b"]}) == (
        "restore drill of k failed: a; b"
    )
    assert drill.failure({"status": "locked", "error": "held by pid 7"}) == "held by pid 7"


def test_a_drill_summary_keeps_at_most_20_differences_and_no_detail():
    differences = [f"tasky.c{i}: 1 documents at dump time, 0 restored" for i in range(25)]
    result = {"status": "failed", "ok": False, "key": "k", "compared": {"tasky.c0": {}}, "differences": differences}
    short = summarised(result)
    assert "compared" not in short and short["key"] == "k" and short["status"] == "failed"
    assert short["differences"] == [*differences[:SUMMARY_DIFFERENCES], "... and 5 more"]
    assert SUMMARY_DIFFERENCES == 20
    assert result["differences"] == differences and "compared" in result  # the result itself keeps all
    few = summarised({**result, "differences": differences[:20]})
    assert few["differences"] == differences[:20]


@dataclasses.dataclass
class Sample(Result):
    OPTIONAL = ("note",)
    HIDDEN = ("writer",)

    status: str
    note: str = None
    writer: object = None
    count: int = None


def test_as_dict_leaves_out_optional_nones_and_hidden_fields():
    assert Sample("ok", writer=object()).as_dict() == {"status": "ok", "count": None}  # count is not OPTIONAL
    assert Sample("ok", note="n", count=2).as_dict() == {"status": "ok", "note": "n", "count": 2}
    assert Sample("ok").summary() == Sample("ok").as_dict()


def test_an_ended_run_carries_the_actions_own_fields():
    ended = Ended("locked", "held by pid 7", "2026-11-26T02:00:00Z", {"ok": False, "key": "k"})
    assert ended.as_dict() == {
        "status": "locked",
        "error": "held by pid 7",
        "ok": False,
        "key": "k",
        "finished_at": "2026-11-26T02:00:00Z",
    }


def test_every_module_option_is_documented_and_its_return_values_parse():
    """ansible-doc renders what this parses: an option added to the argument spec without its
    documentation (or the reverse), or a RETURN that is not YAML, fails here."""
    tree = ast.parse((ROOT / "library" / "tasky_backup.py").read_text())
    texts = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    documented = set(yaml.safe_load(texts["DOCUMENTATION"])["options"])
    (spec,) = [node.value for node in tree.body if isinstance(node, ast.Assign) and node.targets[0].id == "ARGUMENTS"]
    named = {key.value for key in spec.keys if isinstance(key, ast.Constant)} | {
        "bucket",
        "prefix",
        "endpoint_url",
        "region",
    }
    assert documented == named
    returned = yaml.safe_load(texts["RETURN"])
    assert {"status", "key", "signed", "manifest", "problems"} <= set(returned)
    assert all(isinstance(item, dict) and "description" in item for item in returned.values())
