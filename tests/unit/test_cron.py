"""The mongodb_backup role's filter cron_schedule_problems (filter_plugins/cron_schedule.py),
loaded from its file as Ansible loads it: valid schedules give no problem, each bad field is named.
(That the role fails before any change on them is the lab's test_mongodb_backup_role.py.)"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_spec = importlib.util.spec_from_file_location(
    "cron_schedule", ROOT / "roles/mongodb_backup/filter_plugins/cron_schedule.py"
)
_cron = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cron)
cron_schedule_problems = _cron.cron_schedule_problems


@pytest.mark.parametrize(
    "schedule",
    [
        "0 2 * * *",
        "*/15 * * * *",
        "0 0-23/2 1,15 * MON",
        "30 4 1 jan *",
        "0 2 * * 7",
        "0,30 1-5 * 1-12/3 0-6",
        "59 23 31 12 SUN",
        "0 2 * jan-mar,oct mon-fri/2",
    ],
)
def test_valid_cron_schedules_pass(schedule):
    assert cron_schedule_problems(schedule) == []


@pytest.mark.parametrize(
    ("schedule", "said"),
    [
        ("0 25 * * *", "hour '25' is outside 0-23"),
        ("60 2 * * *", "minute '60' is outside 0-59"),
        ("0 2 0 * *", "day of month '0' is outside 1-31"),
        ("0 2 * 13 *", "month '13' is outside 1-12"),
        ("0 2 * * 8", "day of week '8' is outside 0-7"),
        ("*/0 2 * * *", "minute step '*/0' must be 1-60"),
        ("0 5-1 * * *", "hour range '5-1' runs backwards"),
        ("*/61 2 * * *", "minute step '*/61' must be 1-60"),
        ("0 2 * JAN-MAX *", "month 'MAX' is not a number or a name of the field"),
        ("0 2 * * MON,TUX", "day of week 'TUX' is not a number or a name of the field"),
        ("0 2 * * FRI/2", "day of week 'FRI/2': a /step needs * or a range before it"),
        ("0 MON * * *", "hour 'MON' is not a number"),
        ("0 2 1,,2 * *", "day of month '' is not *, a value, a range a-b"),
        ("0 4 * * SUN-MON/9", "day of week step 'SUN-MON/9' must be 1-8"),
        ("0 2 * * SAT-SUN", "day of week range 'SAT-SUN' runs backwards"),
    ],
)
def test_each_bad_field_is_named(schedule, said):
    problems = cron_schedule_problems(schedule)
    assert len(problems) == 1 and said in problems[0], problems


@pytest.mark.parametrize(("schedule", "count"), [("0 2 * * * *", 6), ("0 2 * *", 4), ("", 0), ("every night", 2)])
def test_not_five_fields_is_said_once(schedule, count):
    assert cron_schedule_problems(schedule) == [
        f"it has {count} fields, not the five minute hour day-of-month month day-of-week"
    ]


def test_every_bad_element_is_reported():
    problems = cron_schedule_problems("61 24 * * *")
    assert problems == ["minute '61' is outside 0-59", "hour '24' is outside 0-23"]


def test_the_filter_is_offered_to_ansible_under_its_name():
    assert _cron.FilterModule().filters() == {"cron_schedule_problems": cron_schedule_problems}
