"""mongo/server.py: which replica set member backs up (choose_member), from recorded
replSetGetStatus and replSetGetConfig answers, and member_decision / writable_here asking a
stand-in client whose admin.command returns recorded answers (no server, no socket)."""

import datetime

from tasky_backup.mongo.server import choose_member, member_decision, writable_here

NOW = datetime.datetime(2026, 11, 26, 2, 0, 0)


def test_the_chosen_replica_set_member():
    """One member backs up: a healthy secondary neither delayed nor lagging, hidden ones first,
    then by name; else the primary. (FerretDB has no replica set: recorded replSetGetStatus and
    replSetGetConfig answers stand in here.)"""
    now = datetime.datetime(2026, 11, 26, 2, 0, 0)

    def member(name, state, health=1, behind=0):
        return {
            "name": name,
            "stateStr": state,
            "health": health,
            "optimeDate": now - datetime.timedelta(seconds=behind),
        }

    status = {
        "members": [
            member("c:27017", "SECONDARY"),
            member("a:27017", "PRIMARY"),
            member("b:27017", "SECONDARY"),
            member("d:27017", "SECONDARY"),
        ]
    }
    config = {"members": [{"host": "d:27017", "secondaryDelaySecs": 3600, "hidden": True}]}
    assert choose_member(status, config) == "b:27017"  # d is delayed, whatever its name or hidden
    config["members"].append({"host": "c:27017", "hidden": True})
    assert choose_member(status, config) == "c:27017"  # a hidden secondary first
    status["members"][0]["optimeDate"] = now - datetime.timedelta(minutes=5)
    assert choose_member(status, config) == "b:27017"  # c lags five minutes behind
    status["members"][2]["health"] = 0
    assert choose_member(status, config) == "a:27017"  # no fit secondary: the primary


def member(name, state, behind=0, health=1):
    return {"name": name, "stateStr": state, "health": health, "optimeDate": NOW - datetime.timedelta(seconds=behind)}


STATUS = {"set": "rs0", "members": [member("a:27017", "PRIMARY"), member("b:27017", "SECONDARY")]}


def test_a_healthy_secondary_is_chosen_over_the_primary():
    assert choose_member(STATUS, {"members": [{"host": "a:27017"}, {"host": "b:27017"}]}) == "b:27017"
    assert choose_member(STATUS) == "b:27017"  # no config: nothing is hidden or delayed


def test_a_lag_of_a_minute_is_fine_and_more_is_not():
    at_limit = {"members": [member("a:27017", "PRIMARY"), member("b:27017", "SECONDARY", behind=60)]}
    assert choose_member(at_limit) == "b:27017"
    past = {"members": [member("a:27017", "PRIMARY"), member("b:27017", "SECONDARY", behind=61)]}
    assert choose_member(past) == "a:27017"


def test_the_old_slave_delay_name_counts_as_delayed():
    assert choose_member(STATUS, {"members": [{"host": "b:27017", "slaveDelay": 600}]}) == "a:27017"


def test_members_in_other_states_never_back_up():
    status = {"members": [member("a:27017", "RECOVERING"), member("b:27017", "ARBITER"), member("c:27017", "STARTUP2")]}
    assert choose_member(status) == ""  # no primary, no fit secondary: nobody
    assert choose_member({"members": [member("b:27017", "SECONDARY", behind=3600)]}) == "b:27017"  # no primary to lag


class Admin:
    def __init__(self, answers):
        self.answers, self.asked = answers, []

    def command(self, name):
        self.asked.append(name)
        return self.answers[name]


class Client:
    """Stands in for a pymongo client: admin.command(name) answers what was recorded."""

    def __init__(self, **answers):
        self.admin = Admin(answers)


def replica_client(me, **hello):
    return Client(
        hello={"setName": "rs0", "me": me, **hello},
        replSetGetStatus=STATUS,
        replSetGetConfig={"config": {"_id": "rs0", "members": [{"host": "a:27017"}, {"host": "b:27017"}]}},
    )


def test_a_standalone_server_always_backs_up():
    client = Client(hello={"isWritablePrimary": True})
    assert member_decision(client) == (True, "standalone server")
    assert client.admin.asked == ["hello"]  # no replica set question asked of a standalone server


def test_the_chosen_member_backs_up():
    assert member_decision(replica_client("b:27017")) == (True, "chosen member b:27017 of replica set rs0")


def test_another_member_says_which_one_backs_up():
    assert member_decision(replica_client("a:27017")) == (
        False,
        "not the chosen member: b:27017 backs up replica set rs0, this is a:27017",
    )


def test_only_a_primary_or_a_standalone_server_takes_the_drill():
    assert writable_here(Client(hello={})) == (True, "standalone server")
    assert writable_here(replica_client("a:27017", isWritablePrimary=True)) == (True, "primary of replica set rs0")
    writable, why = writable_here(replica_client("b:27017", primary="a:27017"))
    assert not writable and why == (
        "b:27017 is not the primary of replica set rs0: the drill restores on the primary (a:27017)"
    )
