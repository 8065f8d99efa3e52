#!/bin/sh
# The instance metadata service serves the instance role's credentials to any local process: with
# these rules only the users in IMDS_USERS (default: root, which runs the backups, the SSM and
# CloudWatch agents) reach it. Run by tasky-imds-root-only.service at boot: start or stop.
set -eu
action=${1:?usage: imds-root-only start|stop}
users=${IMDS_USERS:-root}
chain=TASKY_IMDS

rules() {
    ipt=$1 address=$2
    while $ipt -w -D OUTPUT -d "$address" -j "$chain" 2>/dev/null; do :; done
    $ipt -w -F "$chain" 2>/dev/null || true
    $ipt -w -X "$chain" 2>/dev/null || true
    [ "$action" = stop ] && return 0
    $ipt -w -N "$chain"
    for user in $users; do
        if id -u "$user" >/dev/null 2>&1; then
            $ipt -w -A "$chain" -m owner --uid-owner "$user" -j RETURN
        else
            echo "imds-root-only: no user $user on this host, left out" >&2
        fi
    done
    $ipt -w -A "$chain" -p tcp -j REJECT --reject-with tcp-reset
    $ipt -w -A "$chain" -j REJECT
    $ipt -w -I OUTPUT -d "$address" -j "$chain"
}

case $action in start | stop) ;; *) echo "imds-root-only: start or stop, not $action" >&2; exit 2 ;; esac
rules iptables 169.254.169.254
# IPv6 instances (Nitro) also answer on fd00:ec2::254; hosts without IPv6 netfilter skip it.
if command -v ip6tables >/dev/null 2>&1 && ip6tables -w -L OUTPUT >/dev/null 2>&1; then
    rules ip6tables fd00:ec2::254
fi
