"""Action plugin of tasky_backup: what one host's module cannot see, the whole play.

A restore with drop=true on several hosts at once replaces the data of every one of them; it
runs only with drop_on_many_hosts=true, and is refused before any host is touched otherwise.
"""

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        hosts = task_vars.get("ansible_play_hosts_all") or task_vars.get("ansible_play_hosts") or []
        dropping = args.get("state") == "restore" and boolean(args.get("drop", False), strict=False)
        if dropping and len(hosts) > 1 and not boolean(args.get("drop_on_many_hosts", False), strict=False):
            result.update(
                failed=True,
                msg=(
                    f"restore with drop=true on {len(hosts)} hosts at once would replace the data of every one "
                    "of them; limit the run to one host, or set drop_on_many_hosts=true"
                ),
            )
            return result
        result.update(self._execute_module(module_name="tasky_backup", module_args=args, task_vars=task_vars))
        return result
