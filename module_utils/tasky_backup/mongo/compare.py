"""The restore drill's verdict: what a backup held at dump time (its record: the signed manifest) against
what was restored from it, collection by collection; each difference names its collection.
Pure: dictionaries in, sentences out."""


def expected_of(record, db, name):
    if not record:
        return None
    return (record.get("databases", {}).get(db) or {}).get(name)


def compare(record, backup_key, databases, found):
    """The differences between what the dump held (the record) and what was restored."""
    if not record:
        return [
            f"no record of what {backup_key} held at dump time (its manifest {backup_key}.json is missing or "
            "unreadable): nothing to compare the restore with"
        ]
    differences = [f"recorded at dump time: {problem}" for problem in record.get("problems") or []]
    expected = record.get("databases") or {}
    for db in sorted(set(expected) - set(databases)):
        differences.append(f"database {db} was recorded at dump time and is not in the archive")
    for db in sorted(set(databases) - set(expected)):
        differences.append(f"database {db} is in the archive and was not recorded at dump time")
    for db in sorted(set(expected) & set(databases)):
        want, got = expected[db], found.get(db, {})
        for name in sorted(set(want) | set(got)):
            differences += compare_collection(f"{db}.{name}", want.get(name), got.get(name))
    return differences


def compare_collection(namespace, want, got):
    if want is None:
        return [f"{namespace} was restored and was not recorded at dump time"]
    if got is None:
        count = "" if want.get("documents") is None else f" ({want['documents']} documents)"
        return [f"{namespace} was recorded at dump time{count} and was not restored"]
    if want.get("type", "collection") != got.get("type", "collection"):
        was, now = want.get("type", "collection"), got.get("type", "collection")
        return [f"{namespace} was a {was} at dump time, restored as a {now}"]
    if want.get("type", "collection") != "collection":
        return []
    differences = []
    if want.get("documents") is None:
        differences.append(f"{namespace}: no document count was recorded at dump time; {got['documents']} restored")
    elif want["documents"] != got["documents"]:
        differences.append(f"{namespace}: {want['documents']} documents at dump time, {got['documents']} restored")
    missing = sorted(set(want.get("indexes") or []) - set(got["indexes"]))
    extra = sorted(set(got["indexes"]) - set(want.get("indexes") or []))
    if missing:
        differences.append(f"{namespace}: index(es) {', '.join(missing)} recorded at dump time and not restored")
    if extra:
        differences.append(f"{namespace}: index(es) {', '.join(extra)} restored and not recorded at dump time")
    return differences
