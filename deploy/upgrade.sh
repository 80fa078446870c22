#!/usr/bin/env bash
# Replaces a running `gatehouse serve` with a new binary without dropping a connection.
#
#   deploy/upgrade.sh OLD_PID NEW_BINARY [serve flags, the same as the running process…]
#
# 1. Starts NEW_BINARY with the same flags beside the old process. Once it serves the current
#    config it is handed the old process's proxy sockets (the old one stops accepting on them),
#    and waits as a standby for the database's writer lock (its status port must differ, or be
#    shared with SO_REUSEPORT as it is by default).
# 2. Waits until the new process reports ready on its status port.
# 3. Sends SIGTERM to the old process: it stops accepting, finishes in-flight requests, exits;
#    the new process then takes the writer lock and opens the admin API.
#
# The handoff socket (--handoff-socket, beside the database by default) means no connection
# queued on the sockets is lost and no kernel setting is needed. Where it is turned off
# ('off'), the new process binds beside the old one with SO_REUSEPORT and net.ipv4.tcp_migrate_req=1 (Linux 5.14+) keeps the old sockets'
# queued connections from being reset; the script sets it when it can.
set -euo pipefail
old_pid=$1; new_binary=$2; shift 2
status=${GATEHOUSE_STATUS_LISTEN:-127.0.0.1:8100}
handoff=${GATEHOUSE_HANDOFF_SOCKET:-}
for ((i = 1; i <= $#; i++)); do
  j=$((i + 1))
  if [ "${!i}" = "--status-listen" ]; then status=${!j}; fi
  if [ "${!i}" = "--handoff-socket" ]; then handoff=${!j}; fi
done

# Only without the handoff does the kernel setting matter.
if [ "$handoff" = "off" ] && [ "$(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null || echo 1)" = "0" ]; then
  sysctl -qw net.ipv4.tcp_migrate_req=1 2>/dev/null || true
fi

"$new_binary" serve "$@" &
new_pid=$!
echo "started $new_pid beside $old_pid" >&2
for _ in $(seq 600); do
  # The status port is shared: keep asking until the new process answers ready.
  answer=$(curl -fs "http://$status/status" || true)
  if grep -q "\"pid\": $new_pid," <<<"$answer" && grep -q '"ready": true' <<<"$answer"; then break; fi
  kill -0 "$new_pid" 2>/dev/null || { echo "the new process exited" >&2; exit 1; }
  sleep 0.1
done
kill -TERM "$old_pid"
while kill -0 "$old_pid" 2>/dev/null; do sleep 0.1; done
echo "upgraded: $old_pid drained and exited; $new_pid serves" >&2
wait "$new_pid"
