"""UTC time, in one format for the log, the state file and every result."""

import datetime

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def utc_now_text():
    return utc_now().strftime(TIME_FORMAT)


def parse_utc(text):
    return datetime.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)


def age_seconds(text):
    """Seconds since a time in the engine's format; None for none."""
    return (utc_now() - parse_utc(text)).total_seconds() if text else None
