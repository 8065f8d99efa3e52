"""The cloudwatch_agent role's config, rendered for real by ansible-playbook on localhost and checked
against the agent's own JSON Schema (aws/amazon-cloudwatch-agent translator/config/schema.json,
a copy with its SOURCE.md in tests/lab/fixtures/cloudwatch_agent/): a config that fails it is rejected by the agent.

The role runs with cloudwatch_agent_install: false (nothing to download offline) and its
config path pointed into tmp_path. No S3, no lab, no containers.
"""

import copy
import json
import os
import stat
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import BIN, ansible_json

# A copy of the agent's schema (MIT licence; SOURCE.md beside it names the commit).
SCHEMA = Path(__file__).resolve().parent / "fixtures/cloudwatch_agent/schema.json"

LOG_GROUP = "/aws/ec2/mongodb"
LOG_FILES = {
    "/var/log/mongodb-backup.log": "{instance_id}/backup",
    "/var/log/mongodb/mongod.log": "{instance_id}/mongod",
}


def run_role(workdir, *args, facts=None, **role_vars):
    """Runs the role on localhost with install off; returns (rc, JSON output, config path).

    facts, when given, stand in for the host's ansible_facts (the role then gathers nothing)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "etc" / "amazon-cloudwatch-agent" / "tasky.json"
    play = {
        "name": "Render the CloudWatch agent config",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "roles": [
            {
                "role": "cloudwatch_agent",
                "vars": {"cloudwatch_agent_install": False, "cloudwatch_agent_config_path": str(config), **role_vars},
            }
        ],
    }
    playbook = workdir / "play.yml"
    playbook.write_text(json.dumps([play]))  # JSON is YAML
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook), *args]
    extra = {"ansible_python_interpreter": sys.executable}
    if facts is not None:
        extra["ansible_facts"] = facts
    cmd += ["-e", json.dumps(extra)]
    rc, out = ansible_json(cmd)
    return rc, out, config


def results(out):
    """(task name without the role prefix, result) for every task that ran on localhost, in order."""
    for play in out["plays"]:
        for task in play["tasks"]:
            if "localhost" in task["hosts"]:
                yield task["task"]["name"].removeprefix("cloudwatch_agent : "), task["hosts"]["localhost"]


def failures(out):
    return [str(r.get("msg")) for _, r in results(out) if r.get("failed")]


def collect_list(config):
    return config["logs"]["logs_collected"]["files"]["collect_list"]


@pytest.fixture(scope="session")
def validator():
    if not SCHEMA.is_file():
        pytest.fail(f"the CloudWatch agent's JSON Schema is not at {SCHEMA} (see SOURCE.md beside it)")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The role's defaults, rendered twice into the same place (the second run is the idempotence check)."""
    workdir = tmp_path_factory.mktemp("cloudwatch_agent")
    rc, first, config = run_role(workdir)
    assert rc == 0, failures(first)
    rc, second, _ = run_role(workdir)
    assert rc == 0, failures(second)
    return {"path": config, "config": json.loads(config.read_text()), "first": first, "second": second}


def test_rendered_config_is_valid_for_the_agent(rendered, validator):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(rendered["config"])]
    assert errors == []


def test_the_two_logs_go_to_the_log_group_with_retention(rendered):
    entries = collect_list(rendered["config"])
    assert {e["file_path"]: e["log_stream_name"] for e in entries} == LOG_FILES
    assert {e["log_group_name"] for e in entries} == {LOG_GROUP}
    assert {e["retention_in_days"] for e in entries} == {30}
    stamps = {e["log_stream_name"]: (e.get("timestamp_format"), e.get("timezone")) for e in entries}
    assert stamps == {
        "{instance_id}/backup": ("%Y-%m-%dT%H:%M:%SZ", "UTC"),
        "{instance_id}/mongod": ("%Y-%m-%dT%H:%M:%S.%f", None),
    }
    assert entries[0]["multi_line_start_pattern"] == "{timestamp_format}"


def test_the_user_data_log_is_shipped_only_when_asked(rendered, tmp_path, validator):
    """Bootstrap scripts often print secrets into it: off by default, one variable turns it on."""
    assert "user-data" not in rendered["path"].read_text()
    rc, out, config = run_role(tmp_path, "-e", json.dumps({"cloudwatch_agent_ship_user_data_log": True}))
    assert rc == 0, failures(out)
    entries = collect_list(json.loads(config.read_text()))
    assert {e["file_path"]: e["log_stream_name"] for e in entries} == {
        **LOG_FILES,
        "/var/log/user-data.log": "{instance_id}/user-data",
    }
    assert list(validator.iter_errors(json.loads(config.read_text()))) == []


def test_memory_and_data_volume_metrics_with_instance_id(rendered):
    metrics = rendered["config"]["metrics"]
    assert metrics["namespace"] == "Tasky/MongoDB"
    assert metrics["append_dimensions"] == {"InstanceId": "${aws:InstanceId}"}
    assert metrics["metrics_collected"]["mem"]["measurement"] == ["mem_used_percent"]
    disk = metrics["metrics_collected"]["disk"]
    # One mount point, from this machine's mounts (the cases are below, with given mounts).
    assert disk["measurement"] == ["used_percent"]
    assert len(disk["resources"]) == 1 and disk["resources"][0].startswith("/")
    assert rendered["config"]["agent"]["metrics_collection_interval"] == 60


def test_config_file_is_root_owned_0644(rendered):
    st = rendered["path"].stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)


def test_first_run_writes_second_run_changes_nothing(rendered):
    assert rendered["first"]["stats"]["localhost"]["changed"] >= 1
    assert rendered["second"]["stats"]["localhost"]["changed"] == 0


def test_a_config_change_notifies_the_reload_handler(rendered):
    """The handler runs after a change (skipped here by its `when`, as the agent is not
    installed) and is not notified when nothing changed."""
    handler = "Load the CloudWatch agent configuration"
    first, second = dict(results(rendered["first"])), dict(results(rendered["second"]))
    assert first[handler].get("skipped") is True
    assert handler not in second


def test_skipped_install_is_announced_and_nothing_is_installed(rendered):
    tasks = dict(results(rendered["first"]))
    msg = tasks["Say that the agent is not installed"]["msg"]
    assert "install SKIPPED" in msg and "cloudwatch_agent_install is false" in msg
    assert tasks["Install the agent"].get("skipped")
    assert tasks["Load the configuration and run the agent"].get("skipped")


def without_file_path(config):
    del collect_list(config)[0]["file_path"]


def with_retention(days):
    def mutate(config):
        collect_list(config)[0]["retention_in_days"] = days

    return mutate


def with_empty_stream(config):
    collect_list(config)[1]["log_stream_name"] = ""


def with_unknown_key(config):
    collect_list(config)[1]["log_group"] = LOG_GROUP


def without_measurement(config):
    del config["metrics"]["metrics_collected"]["mem"]["measurement"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (without_file_path, "'file_path' is a required property"),
        (with_retention(10), "10 is not one of"),
        (with_retention("30"), "'30' is not of type 'integer'"),
        (with_empty_stream, "'' should be non-empty"),
        (with_unknown_key, "Additional properties are not allowed ('log_group' was unexpected)"),
        (without_measurement, "'measurement' is a required property"),
    ],
    ids=["no-file_path", "retention-10", "retention-string", "empty-stream", "unknown-key", "no-measurement"],
)
def test_schema_rejects_a_broken_config(rendered, validator, mutate, expected):
    broken = copy.deepcopy(rendered["config"])
    mutate(broken)
    messages = [e.message for e in validator.iter_errors(broken)]
    assert messages, "the schema accepted a broken config"
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(
    ("role_vars", "variable"),
    [
        ({"cloudwatch_agent_retention_in_days": 2}, "cloudwatch_agent_retention_in_days"),
        (
            {"cloudwatch_agent_log_files": [{"path": "var/log/relative.log", "stream": "relative"}]},
            "cloudwatch_agent_log_files",
        ),
        ({"cloudwatch_agent_log_group": "/aws/ec2/mongo db"}, "cloudwatch_agent_log_group"),
    ],
    ids=["retention-2", "relative-log-path", "log-group-with-space"],
)
def test_bad_input_fails_naming_the_variable_and_writes_nothing(tmp_path, role_vars, variable):
    rc, out, config = run_role(tmp_path, **role_vars)
    assert rc != 0
    messages = failures(out)
    assert messages and variable in messages[0], messages
    assert not config.parent.exists()


def test_more_log_files_and_another_retention(tmp_path, validator):
    extra = {"path": "/var/log/syslog", "stream": "syslog", "timestamp_format": "%b %d %H:%M:%S", "timezone": "UTC"}
    files = [{"path": p, "stream": s.split("/", 1)[1]} for p, s in LOG_FILES.items()] + [extra]
    rc, out, config = run_role(tmp_path, cloudwatch_agent_log_files=files, cloudwatch_agent_retention_in_days=90)
    assert rc == 0, failures(out)
    rendered = json.loads(config.read_text())
    assert list(validator.iter_errors(rendered)) == []
    entries = collect_list(rendered)
    assert [e["log_stream_name"] for e in entries] == [*LOG_FILES.values(), "{instance_id}/syslog"]
    assert {e["retention_in_days"] for e in entries} == {90}
    assert entries[-1]["timestamp_format"] == "%b %d %H:%M:%S" and entries[-1]["timezone"] == "UTC"
    assert "timestamp_format" not in entries[0]


def test_check_mode_reports_the_change_and_writes_nothing(tmp_path):
    rc, out, config = run_role(tmp_path, "--check")
    assert rc == 0, failures(out)
    assert out["stats"]["localhost"]["changed"] >= 1
    assert not config.parent.exists()


# The source config survives `amazon-cloudwatch-agent-ctl -a fetch-config`, which (multi_config
# "default") runs `rm -f /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json` and
# replaces every file in etc/amazon-cloudwatch-agent.d/ after reading the new config.
CTL_CONF_DIR = "/opt/aws/amazon-cloudwatch-agent/etc"
ROLE = Path(__file__).resolve().parents[2] / "roles/cloudwatch_agent"


def test_default_config_source_is_outside_what_fetch_config_deletes():
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    path = defaults["cloudwatch_agent_config_path"]
    assert path == "/etc/amazon-cloudwatch-agent/tasky.json"
    assert not os.path.normpath(path).startswith(CTL_CONF_DIR + "/")
    handler = yaml.safe_load((ROLE / "handlers/main.yml").read_text())[0]
    assert handler["ansible.builtin.command"]["argv"][-1] == "file:{{ cloudwatch_agent_config_path }}"


@pytest.mark.parametrize(
    "path",
    [
        f"{CTL_CONF_DIR}/amazon-cloudwatch-agent.json",
        f"{CTL_CONF_DIR}/amazon-cloudwatch-agent.d/file_tasky.json",
        f"{CTL_CONF_DIR}/../etc/tasky.json",
    ],
    ids=["the-file-ctl-removes", "ctl-config-dir", "dotdot"],
)
def test_config_path_where_fetch_config_deletes_is_refused(tmp_path, path):
    rc, out, _ = run_role(tmp_path, cloudwatch_agent_config_path=path)
    assert rc != 0
    (msg,) = failures(out)
    assert "cloudwatch_agent_config_path" in msg and "fetch-config" in msg
    assert not any(r.get("changed") for _, r in results(out))


# The data volume metric: the mount point holding MongoDB's data path, from the host's mounts
# (the agent's disk resources are mount points).
def facts(os_family, *mounts):
    return {
        "os_family": os_family,
        "architecture": "x86_64",
        "distribution": "Rocky" if os_family == "RedHat" else "Debian",
        "mounts": [{"mount": m, "device": "/dev/xvda1", "fstype": "xfs"} for m in mounts],
    }


@pytest.mark.parametrize(
    ("host_facts", "role_vars", "resource"),
    [
        (facts("RedHat", "/", "/var/lib/mongo"), {}, "/var/lib/mongo"),
        (facts("RedHat", "/"), {}, "/"),
        (facts("Debian", "/", "/var/lib/mongodb"), {}, "/var/lib/mongodb"),
        (facts("Debian", "/", "/var/lib/mongo"), {}, "/"),  # RedHat's path mounted, Debian's data on /
        (facts("Debian", "/", "/var"), {}, "/var"),
        (facts("Debian", "/", "/var", "/var/lib/mongodb2"), {}, "/var"),  # a sibling is no parent
        (facts("Debian"), {}, "/"),  # no device mounts seen (a container's overlay root)
        (facts("Debian", "/", "/data"), {"mongodb_data_path": "/data/db/"}, "/data"),
        (facts("Debian", "/", "/var/lib/mongodb"), {"cloudwatch_agent_data_volume": "/srv"}, "/srv"),
    ],
    ids=[
        "redhat-data-volume",
        "redhat-root",
        "debian-data-volume",
        "debian-other-path-mounted",
        "parent-mount",
        "sibling-not-parent",
        "no-mounts",
        "mongodb_data_path-followed",
        "explicit-override",
    ],
)
def test_disk_metric_is_the_mount_holding_mongodb_data(tmp_path, validator, host_facts, role_vars, resource):
    rc, out, config = run_role(tmp_path, facts=host_facts, **role_vars)
    assert rc == 0, failures(out)
    rendered = json.loads(config.read_text())
    assert rendered["metrics"]["metrics_collected"]["disk"]["resources"] == [resource]
    assert list(validator.iter_errors(rendered)) == []


def test_relative_data_path_is_refused(tmp_path):
    rc, out, _ = run_role(tmp_path, facts=facts("Debian", "/"), mongodb_data_path="var/lib/mongodb")
    assert rc != 0
    (msg,) = failures(out)
    assert "cloudwatch_agent_data_path" in msg


def test_the_shipped_logs_follow_the_other_roles_paths(tmp_path):
    """Moving the backup log (mongodb_backup_log_file) or mongod's (mongodb_log_path) moves what
    the agent ships: no log silently stops reaching CloudWatch."""
    rc, _out, config = run_role(
        tmp_path, mongodb_backup_log_file="/srv/logs/backup.log", mongodb_log_path="/data/log/mongod.log"
    )
    assert rc == 0
    entries = json.loads(config.read_text())["logs"]["logs_collected"]["files"]["collect_list"]
    paths = {e["log_stream_name"].split("/")[-1]: e["file_path"] for e in entries}
    assert paths["backup"] == "/srv/logs/backup.log" and paths["mongod"] == "/data/log/mongod.log"
