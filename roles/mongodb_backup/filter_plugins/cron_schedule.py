"""cron_schedule_problems: what is wrong with a five-field cron schedule, field by field.

The rules are those of the cron daemons the role installs (Debian's cron, cronie; both Vixie
cron): each field is a list of comma-separated elements, each '*' or a value or a range 'a-b',
optionally followed by '/step' ('*' or a range only); minute 0-59, hour 0-23, day of month 1-31,
month 1-12 or JAN-DEC, day of week 0-7 or SUN-SAT (0 and 7 are Sunday); names in any case.
Two things cron takes and this refuses, as certain mistakes: a range that runs backwards and a
step wider than the field. An empty list means valid.
"""

import re

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: number for number, name in enumerate(MONTHS, start=1)}),
    ("day of week", 0, 7, {name: number for number, name in enumerate(DAYS)}),
)
ELEMENT = re.compile(r"^(?:(\*)|([0-9]+|[A-Za-z]{3})(?:-([0-9]+|[A-Za-z]{3}))?)(?:/([0-9]+))?$")


def _value(token, names):
    """The number of a value token, or None when it is not one of this field's values."""
    if token.isdigit():
        return int(token)
    return names.get(token.lower())


def _element_problems(element, name, low, high, names):
    match = ELEMENT.match(element)
    if not match:
        return [f"{name} '{element}' is not *, a value, a range a-b, or * or a range with /step"]
    star, first, last, step = match.groups()
    problems = []
    tokens = [t for t in (first, last) if t is not None]
    values = [_value(t, names) for t in tokens]
    for token, value in zip(tokens, values):
        if value is None:
            problems.append(f"{name} '{token}' is not a number" + (" or a name of the field" if names else ""))
        elif not low <= value <= high:
            problems.append(f"{name} '{element}' is outside {low}-{high}")
    if len(values) == 2 and None not in values and values[0] > values[1]:
        problems.append(f"{name} range '{element}' runs backwards")
    if step is not None:
        if star is None and last is None:
            problems.append(f"{name} '{element}': a /step needs * or a range before it")
        if not 1 <= int(step) <= high - low + 1:
            problems.append(f"{name} step '{element}' must be 1-{high - low + 1}")
    return problems


def cron_schedule_problems(schedule):
    fields = str(schedule).split()
    if len(fields) != 5:
        return [f"it has {len(fields)} fields, not the five minute hour day-of-month month day-of-week"]
    problems = []
    for value, (name, low, high, names) in zip(fields, FIELDS):
        for element in value.split(","):
            problems += _element_problems(element, name, low, high, names)
    return problems


class FilterModule:
    def filters(self):
        return {"cron_schedule_problems": cron_schedule_problems}
