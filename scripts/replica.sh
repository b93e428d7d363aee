#!/usr/bin/env bash
# A streaming read replica of the local PostgreSQL (127.0.0.1:5432) on 127.0.0.1:5433, for
# DATABASE_READ_URL and the replica tests. Run as root (or as postgres); idempotent.
#
#   scripts/replica.sh [start]   make the replica if missing (pg_basebackup -R), start it, wait until it streams
#   scripts/replica.sh stop      stop it (the replication slot keeps the WAL it needs for a restart)
#   scripts/replica.sh status    running or not, and its replay lag as the primary sees it
#   scripts/replica.sh remove    stop it, delete its data directory and drop its replication slot
#
# Environment: REPLICA_PORT (5433), PRIMARY_PORT (5432), REPLICA_DIR (/var/lib/postgresql/robot-brain-replica-PORT).
#
# On the primary it may: add a `host replication all 127.0.0.1/32 trust` line to pg_hba.conf and reload;
# create the physical slot robot_brain_replica_PORT; cap the WAL a slot may hold
# (max_slot_wal_keep_size = 2GB when unlimited) so a forgotten replica cannot fill the disk. It never
# restarts the primary. The replica's files live where the postgres user can reach them, whatever the
# permissions of the directory this script is run from.
set -euo pipefail

cmd=${1:-start}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICA_PORT=${REPLICA_PORT:-5433}
REPLICA_DIR=${REPLICA_DIR:-/var/lib/postgresql/robot-brain-replica-$REPLICA_PORT}
SLOT=robot_brain_replica_$REPLICA_PORT
LOG=$REPLICA_DIR.log

die() {
  echo "replica.sh: $*" >&2
  exit 1
}

# Runs a command as the postgres user, from / (the caller's directory may be closed to postgres).
as_pg() {
  if [[ $(id -un) == postgres ]]; then
    (cd / && "$@")
  elif [[ $(id -u) == 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    die "run as root or as postgres (it starts a server as postgres)"
  fi
}

bindir() {
  local v
  v=$(psql_primary -Atc "SHOW server_version_num")
  v=$((v / 10000))
  [[ -x /usr/lib/postgresql/$v/bin/pg_ctl ]] || die "no /usr/lib/postgresql/$v/bin/pg_ctl for server version $v"
  echo "/usr/lib/postgresql/$v/bin"
}

psql_primary() { psql -X -q -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres "$@"; }
psql_replica() { psql -X -q -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres "$@"; }

replica_running() { pg_isready -q -h 127.0.0.1 -p "$REPLICA_PORT"; }

# The primary must accept replication connections from 127.0.0.1 and stream WAL.
prepare_primary() {
  pg_isready -q -h 127.0.0.1 -p "$PRIMARY_PORT" || die "the primary on 127.0.0.1:$PRIMARY_PORT is not running"
  local level senders hba
  level=$(psql_primary -Atc "SHOW wal_level")
  [[ $level == replica || $level == logical ]] ||
    die "the primary has wal_level=$level; set wal_level=replica and restart it (this script does not restart it)"
  senders=$(psql_primary -Atc "SHOW max_wal_senders")
  ((senders > 0)) || die "the primary has max_wal_senders=0; raise it and restart the primary"
  hba=$(psql_primary -Atc "SHOW hba_file")
  # Replication connections match only lines whose database is `replication` (not `all`).
  if ! psql_primary -Atc "SELECT 1 FROM pg_hba_file_rules WHERE 'replication' = ANY(database) AND type = 'host' AND auth_method = 'trust' AND (address = '127.0.0.1' OR address IS NULL OR address = 'all')" | grep -q 1; then
    echo "adding a replication line for 127.0.0.1 to $hba"
    printf '\n# robot-brain-db replica (scripts/replica.sh)\nhost replication all 127.0.0.1/32 trust\n' >>"$hba"
    psql_primary -Atc "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
  fi
  if [[ $(psql_primary -Atc "SHOW max_slot_wal_keep_size") == -1 ]]; then
    psql_primary -c "ALTER SYSTEM SET max_slot_wal_keep_size = '2GB'" -c "SELECT pg_reload_conf()" >/dev/null
  fi
}

# A fresh base backup, configured as a standby of the primary (-R) through the slot.
make_replica() {
  local bin=$1 setting
  echo "making a replica of 127.0.0.1:$PRIMARY_PORT in $REPLICA_DIR"
  as_pg rm -rf "$REPLICA_DIR"
  # A slot left by an earlier replica points at WAL that base backup no longer needs.
  psql_primary -Atc "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null
  as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$REPLICA_DIR" \
    -R -X stream -C -S "$SLOT" --checkpoint=fast --no-password
  # Debian keeps the configuration outside the data directory: the replica gets its own. A hot
  # standby needs these at least as high as on its primary. hot_standby_feedback stays off: with it,
  # the primary keeps every row version the replica might still read (at least the last second's,
  # the feedback interval; and a stopped replica's slot keeps its last horizon until it returns), so
  # the rollup rows every batch of events updates could no longer be updated on their own page
  # (measured on the analytics bench: 40 to 70% of those updates stayed on their page instead of
  # all, and a batch of 1,000 events with rollups took 20.1 instead of 17.6 ms; 26.5 ms while a
  # stopped replica's slot held the horizon; the tables bloating). Without it, a replica query that
  # a replayed cleanup conflicts with waits up to max_standby_streaming_delay, then is cancelled,
  # and the store answers it from the primary.
  {
    echo "# robot-brain-db read replica (scripts/replica.sh)"
    echo "port = $REPLICA_PORT"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = '$REPLICA_DIR'"
    echo "hba_file = '$REPLICA_DIR/pg_hba.conf'"
    echo "ident_file = '$REPLICA_DIR/pg_ident.conf'"
    echo "hot_standby = on"
    echo "hot_standby_feedback = off"
    echo "wal_receiver_status_interval = 1s"
    echo "shared_buffers = 128MB"
    echo "ssl = off"
    for setting in max_connections max_worker_processes max_wal_senders max_prepared_transactions max_locks_per_transaction; do
      echo "$setting = $(psql_primary -Atc "SHOW $setting")"
    done
    local preload
    preload=$(psql_primary -Atc "SHOW shared_preload_libraries")
    if [[ -n $preload ]]; then echo "shared_preload_libraries = '$preload'"; fi
  } | as_pg tee "$REPLICA_DIR/postgresql.conf" >/dev/null
  printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' | as_pg tee "$REPLICA_DIR/pg_hba.conf" >/dev/null
  as_pg touch "$REPLICA_DIR/pg_ident.conf"
}

# A replica made by an earlier version of this script had hot_standby_feedback on: turned off (see
# make_replica), and reloaded when it runs.
feedback_off() {
  if as_pg grep -q '^hot_standby_feedback = on$' "$REPLICA_DIR/postgresql.conf" 2>/dev/null; then
    as_pg sed -i 's/^hot_standby_feedback = on$/hot_standby_feedback = off/' "$REPLICA_DIR/postgresql.conf"
    if replica_running; then psql_replica -Atc "SELECT pg_reload_conf()" >/dev/null; fi
  fi
}

start() {
  prepare_primary
  feedback_off
  local bin
  bin=$(bindir)
  if replica_running; then
    [[ $(psql_replica -Atc "SELECT pg_is_in_recovery()") == t ]] ||
      die "127.0.0.1:$REPLICA_PORT answers but is not a standby: another server holds the port"
  else
    # Made whole before (its own pg_hba.conf is written last), and its slot still holds its WAL.
    if [[ ! -f $REPLICA_DIR/standby.signal || ! -f $REPLICA_DIR/pg_ident.conf ]] ||
      [[ -z $(psql_primary -Atc "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$SLOT' AND wal_status <> 'lost'") ]]; then
      make_replica "$bin"
    fi
    as_pg touch "$LOG" 2>/dev/null || die "cannot write $LOG as postgres"
    as_pg "$bin/pg_ctl" -D "$REPLICA_DIR" -l "$LOG" -w -t 60 start >/dev/null ||
      die "the replica did not start; see $LOG"
  fi
  # Streaming: the replica's WAL receiver says so.
  for _ in $(seq 1 60); do
    if [[ $(psql_replica -Atc "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null) == streaming ]]; then
      echo "replica streaming on 127.0.0.1:$REPLICA_PORT (DATABASE_READ_URL=postgres://postgres@127.0.0.1:$REPLICA_PORT/<database>)"
      return 0
    fi
    sleep 0.5
  done
  die "the replica runs but does not stream from the primary; see $LOG"
}

stop() {
  [[ -f $REPLICA_DIR/postmaster.pid ]] || {
    echo "replica not running"
    return 0
  }
  as_pg "$(bindir)/pg_ctl" -D "$REPLICA_DIR" -m fast -w stop >/dev/null
  echo "replica stopped"
}

status() {
  if replica_running; then
    echo "replica running on 127.0.0.1:$REPLICA_PORT"
    psql_primary -Atc "SELECT 'replay lag: ' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text, '?') || ' bytes behind, slot ' || CASE WHEN active THEN 'active' ELSE 'inactive' END FROM pg_replication_slots WHERE slot_name = '$SLOT'"
  else
    echo "replica not running"
    return 3
  fi
}

remove() {
  stop
  as_pg rm -rf "$REPLICA_DIR"
  rm -f "$LOG"
  psql_primary -Atc "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null
  echo "replica removed"
}

case $cmd in
start | stop | status | remove) "$cmd" ;;
*)
  echo "usage: scripts/replica.sh [start|stop|status|remove]" >&2
  exit 2
  ;;
esac
