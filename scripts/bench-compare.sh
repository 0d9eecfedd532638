#!/usr/bin/env bash
# bench-compare.sh: measure two Latch binaries in one sitting, flow by flow, on SQLite and on
# PostgreSQL, and compare each flow's logins/s as a ratio to client_credentials of the same
# binary and engine (this machine's speed drifts; the ratio is what stays comparable).
#
#   scripts/bench-compare.sh BEFORE_BIN AFTER_BIN [DURATION] [CONCURRENCY]
#
#   DURATION     timed part of each bench run, a Go duration (default 30s)
#   CONCURRENCY  bench workers (default 64)
#
# Environment:
#   PG_URL        postgres://latch:latch@127.0.0.1:5432/latch_bench?sslmode=disable; the script
#                 creates (and at the end drops) the databases <name>_before and <name>_after on
#                 that server, connecting to its "postgres" database as a role that may do so
#   FLOWS         "client_credentials otp magiclink totp refresh hosted"
#   TOTP_USERS    users enrolled for the totp flow (default 20000; enrolment is slow, see
#                 docs/performance.md)
#   ENGINES       "sqlite postgres"
#   RESULTS       where the raw JSON lines go (default /tmp/bench-compare-<time>.jsonl)
#   START_TIMEOUT seconds a server has to print its banner and answer /readyz (default 90)
#   BENCH_TIMEOUT seconds one bench run may take, setup included (default DURATION + 900)
#   KEEP_TMP=1    keep the temporary directory (server logs, data dirs) instead of removing it
#
# For each engine it starts both binaries' `serve` (fresh --data-dir, own loopback port, dev
# mode, --log-level warn), reads the first-start client credentials, then for each flow runs the
# before binary's `bench --json` against the before server, then the after binary's against the
# after server, and so on. It prints a markdown table on stdout; progress goes to stderr.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

log() { printf '[bench-compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $# -ge 2 && $# -le 4 ]] || usage
case "$1" in -h | --help) usage ;; esac

BEFORE_BIN=$1
AFTER_BIN=$2
DURATION=${3:-30s}
CONCURRENCY=${4:-64}
PG_URL=${PG_URL:-postgres://latch:latch@127.0.0.1:5432/latch_bench?sslmode=disable}
FLOWS=${FLOWS:-client_credentials otp magiclink totp refresh hosted}
TOTP_USERS=${TOTP_USERS:-20000}
ENGINES=${ENGINES:-sqlite postgres}
START_TIMEOUT=${START_TIMEOUT:-90}
KEEP_TMP=${KEEP_TMP:-0}

for tool in jq curl timeout ss awk; do
	command -v "$tool" >/dev/null || die "$tool is required"
done
for b in "$BEFORE_BIN" "$AFTER_BIN"; do
	[[ -x $b ]] || die "$b is not an executable file"
done
BEFORE_BIN=$(cd "$(dirname "$BEFORE_BIN")" && pwd)/$(basename "$BEFORE_BIN")
AFTER_BIN=$(cd "$(dirname "$AFTER_BIN")" && pwd)/$(basename "$AFTER_BIN")
[[ $CONCURRENCY =~ ^[1-9][0-9]*$ ]] || die "CONCURRENCY must be a positive integer, not '$CONCURRENCY'"
[[ $TOTP_USERS =~ ^[1-9][0-9]*$ ]] || die "TOTP_USERS must be a positive integer, not '$TOTP_USERS'"
[[ $START_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "START_TIMEOUT must be a positive integer (seconds)"

# duration_seconds prints a Go duration ("30s", "1m30s", "1.5m", "500ms") in whole seconds,
# rounded up, or fails.
duration_seconds() {
	awk -v d="$1" 'BEGIN {
		s = d; total = 0
		if (s == "") exit 1
		while (s != "") {
			if (!match(s, /^[0-9]+(\.[0-9]+)?/)) exit 1
			n = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1)
			if (match(s, /^(ns|us|ms|h|m|s)/)) { u = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1) } else exit 1
			f = (u == "h") ? 3600 : (u == "m") ? 60 : (u == "s") ? 1 : (u == "ms") ? 0.001 : (u == "us") ? 1e-6 : 1e-9
			total += n * f
		}
		t = int(total); if (t < total) t++
		if (t < 1) exit 1
		print t
	}'
}
DURATION_S=$(duration_seconds "$DURATION") || die "DURATION must be a Go duration such as 30s or 1m, not '$DURATION'"
BENCH_TIMEOUT=${BENCH_TIMEOUT:-$((DURATION_S + 900))}
[[ $BENCH_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT must be a positive integer (seconds)"

for engine in $ENGINES; do
	case "$engine" in sqlite | postgres) ;; *) die "unknown engine '$engine' in ENGINES (sqlite, postgres)" ;; esac
done
known_flows=" client_credentials otp magiclink totp refresh hosted "
for flow in $FLOWS; do
	[[ $known_flows == *" $flow "* ]] || log "warning: '$flow' is not a flow this script knows; passing it to bench anyway"
done

redact() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; } # hide a URL's password

# PostgreSQL: the two bench databases and an admin URL on the same server.
PG_ADMIN_URL= PG_DB_BASE=
if [[ " $ENGINES " == *" postgres "* ]]; then
	command -v psql >/dev/null || die "psql is required for the postgres engine (or set ENGINES=sqlite)"
	re='^(postgres(ql)?://[^/?]*)/?([^?]*)(\?.*)?$'
	[[ $PG_URL =~ $re ]] || die "PG_URL does not look like postgres://user:pass@host:port/db: $(redact "$PG_URL")"
	PG_PREFIX=${BASH_REMATCH[1]}
	PG_DB_BASE=${BASH_REMATCH[3]:-latch_bench}
	PG_QUERY=${BASH_REMATCH[4]:-}
	[[ $PG_DB_BASE =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "PG_URL's database name must be a plain identifier, not '$PG_DB_BASE'"
	PG_ADMIN_URL="$PG_PREFIX/postgres$PG_QUERY"
fi
pg_db_url() { printf '%s/%s_%s%s' "$PG_PREFIX" "$PG_DB_BASE" "$1" "$PG_QUERY"; }
psql_admin() { PGOPTIONS="-c client_min_messages=warning" PGCONNECT_TIMEOUT=10 timeout 60 psql "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }

RESULTS=${RESULTS:-/tmp/bench-compare-$(date +%Y%m%d-%H%M%S).jsonl}
: >"$RESULTS" || die "cannot write $RESULTS"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX")

declare -A SERVER_PID=() SERVER_PORT=() CLIENT_ID=() CLIENT_SECRET=() SERVER_LOG=()
PG_CREATED=()

stop_server() { # side
	local side=$1 pid=${SERVER_PID[$1]:-}
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		local i
		for ((i = 0; i < 250; i++)); do # the server drains for up to 20 s
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "server $side (pid $pid) did not stop in 25 s: killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
	unset 'SERVER_PID[$side]'
}

drop_pg_dbs() {
	local db
	for db in "${PG_CREATED[@]}"; do
		psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
			log "warning: could not drop database $db"
	done
	PG_CREATED=()
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local side
	for side in "${!SERVER_PID[@]}"; do stop_server "$side"; done
	[[ ${#PG_CREATED[@]} -eq 0 ]] || drop_pg_dbs
	if [[ $KEEP_TMP == 1 ]]; then
		log "kept $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

port_in_use() { ss -Htln 2>/dev/null | awk '{print $4}' | grep -Eq "[:.]$1\$"; }
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + RANDOM % 30000))
		port_in_use "$p" || { echo "$p"; return 0; }
	done
	die "no free loopback port found"
}

log_tail() { # file
	log "last lines of $1:"
	tail -n 40 "$1" | sed 's/^/    /' >&2 || true
}

# read_credentials side logfile datadir: fills CLIENT_ID/CLIENT_SECRET from the first-start
# banner (dev mode prints them; production writes {client_id, client_secret} to a file in the
# data directory and prints its path). Returns 1 while they are not there yet.
read_credentials() {
	local side=$1 logf=$2 datadir=$3 id secret file
	id=$(sed -n 's/^[[:space:]]*client_id:[[:space:]]*\([^[:space:]]*\)[[:space:]]*$/\1/p' "$logf" | head -n1)
	secret=$(sed -n 's/^[[:space:]]*client_secret:[[:space:]]*\([^[:space:]]*\)[[:space:]]*$/\1/p' "$logf" | head -n1)
	if [[ -z $secret ]]; then
		file=$(sed -n 's/.*[Ss]ecret is in \(.*\) (mode.*/\1/p' "$logf" | head -n1)
		if [[ -z $file ]] && grep -q 'First start' "$logf"; then
			for file in "$datadir"/first-client.json "$datadir"/*client*.json ""; do
				if [[ -f $file ]]; then break; fi
			done
		fi
		if [[ -n $file && -s $file ]]; then
			secret=$(jq -r '.client_secret // empty' "$file" 2>/dev/null || true)
			id=$(jq -r '.client_id // empty' "$file" 2>/dev/null || true)
			if [[ -z $id ]]; then
				id=$(sed -n 's/.*First start: created .* its client \([^ .]*\)\. .*/\1/p' "$logf" | head -n1)
			fi
		fi
	fi
	[[ -n $id && -n $secret ]] || return 1
	CLIENT_ID[$side]=$id
	CLIENT_SECRET[$side]=$secret
}

# start_server engine side bin: starts `bin serve`, waits for its credentials and /readyz.
start_server() {
	local engine=$1 side=$2 bin=$3 attempt port dir datadir logf db_args=() pid deadline rc
	dir="$WORK/$engine-$side"
	datadir="$dir/data"
	logf="$dir/server.log"
	mkdir -p "$dir"
	if [[ $engine == postgres ]]; then
		local db="${PG_DB_BASE}_$side"
		psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\"" >/dev/null ||
			die "could not (re)create database $db through $(redact "$PG_ADMIN_URL")"
		PG_CREATED+=("$db")
		db_args=(--database "$(pg_db_url "$side")")
	fi
	for attempt in 1 2 3; do
		rm -rf "$datadir"
		port=$(free_port)
		log "$engine/$side: starting $bin serve on 127.0.0.1:$port"
		"$bin" serve --addr "127.0.0.1:$port" --data-dir "$datadir" "${db_args[@]}" --log-level warn \
			</dev/null >"$logf" 2>&1 &
		pid=$!
		SERVER_PID[$side]=$pid
		SERVER_PORT[$side]=$port
		SERVER_LOG[$side]=$logf
		deadline=$((SECONDS + START_TIMEOUT))
		while :; do
			if ! kill -0 "$pid" 2>/dev/null; then
				wait "$pid" 2>/dev/null && rc=0 || rc=$?
				unset 'SERVER_PID[$side]'
				if grep -qi 'address already in use' "$logf" && [[ $attempt -lt 3 ]]; then
					log "$engine/$side: port $port was taken; trying another"
					continue 2
				fi
				log_tail "$logf"
				die "$engine/$side: $bin serve exited with status $rc during start"
			fi
			if read_credentials "$side" "$logf" "$datadir" &&
				curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then
				log "$engine/$side: ready (pid $pid, client ${CLIENT_ID[$side]})"
				return 0
			fi
			if ((SECONDS >= deadline)); then
				log_tail "$logf"
				if read_credentials "$side" "$logf" "$datadir"; then
					die "$engine/$side: server did not answer http://127.0.0.1:$port/readyz within ${START_TIMEOUT}s"
				fi
				die "$engine/$side: no first-start client credentials in the banner (or its file) within ${START_TIMEOUT}s"
			fi
			sleep 0.3
		done
	done
	die "$engine/$side: could not find a free port"
}

# run_bench engine side bin flow: one bench run; appends one JSON line to $RESULTS.
run_bench() {
	local engine=$1 side=$2 bin=$3 flow=$4 out err rc extra=() json
	out="$WORK/bench-$engine-$side-$flow.out"
	err="$WORK/bench-$engine-$side-$flow.err"
	[[ $flow == totp ]] && extra=(--users "$TOTP_USERS")
	log "$engine/$side: $flow (${DURATION}, ${CONCURRENCY} workers${extra[*]:+, ${extra[*]}})"
	rc=0
	timeout --signal=INT --kill-after=30 "$BENCH_TIMEOUT" \
		"$bin" bench --url "http://127.0.0.1:${SERVER_PORT[$side]}" \
		--client-id "${CLIENT_ID[$side]}" --client-secret "${CLIENT_SECRET[$side]}" \
		--flow "$flow" --duration "$DURATION" --concurrency "$CONCURRENCY" "${extra[@]}" --json \
		</dev/null >"$out" 2>"$err" || rc=$?
	json=$(grep -E '^[[:space:]]*\{' "$out" | tail -n1 || true)
	if [[ -n $json ]] && jq -e 'type == "object"' >/dev/null 2>&1 <<<"$json"; then
		jq -c --arg engine "$engine" --arg side "$side" --arg bin "$bin" --argjson rc "$rc" \
			--arg stderr "$(tail -n 5 "$err")" --argjson users "$([[ $flow == totp ]] && echo "$TOTP_USERS" || echo null)" \
			'{engine: $engine, side: $side, binary: $bin, bench_rc: $rc} + (if $users then {users: $users} else {} end) + .
			 + (if $rc != 0 then {stderr_tail: $stderr} else {} end)' <<<"$json" >>"$RESULTS"
		jq -r '"    \(.per_second * 100 | round / 100)/s  p99 \(.p99_ms)ms  errors \(.errors)"
			+ (if (.errors_by_code // {}) | length > 0 then "  " + ((.errors_by_code) | tostring) else "" end)' \
			<<<"$json" >&2
	else
		[[ $rc -eq 124 ]] && log "$engine/$side: $flow timed out after ${BENCH_TIMEOUT}s"
		log "$engine/$side: $flow produced no result (exit $rc):"
		tail -n 10 "$err" | sed 's/^/    /' >&2
		jq -nc --arg engine "$engine" --arg side "$side" --arg bin "$bin" --arg flow "$flow" \
			--argjson rc "$rc" --arg stderr "$(tail -n 10 "$err")" \
			'{engine: $engine, side: $side, binary: $bin, flow: $flow, bench_rc: $rc, failed: true, stderr_tail: $stderr}' >>"$RESULTS"
	fi
	if ! kill -0 "${SERVER_PID[$side]}" 2>/dev/null; then
		log_tail "${SERVER_LOG[$side]}"
		die "$engine/$side: the server died during the $flow run"
	fi
}

log "before: $BEFORE_BIN"
log "after:  $AFTER_BIN"
log "flows: $FLOWS; engines: $ENGINES; $DURATION x $CONCURRENCY workers; totp users $TOTP_USERS"
log "raw results: $RESULTS"

for engine in $ENGINES; do
	if [[ $engine == postgres ]]; then
		if ! err=$(psql_admin -Atc 'select 1' 2>&1 >/dev/null); then
			die "cannot reach PostgreSQL as $(redact "$PG_ADMIN_URL"): $err"
		fi
	fi
	start_server "$engine" before "$BEFORE_BIN"
	start_server "$engine" after "$AFTER_BIN"
	for flow in $FLOWS; do
		run_bench "$engine" before "$BEFORE_BIN" "$flow"
		run_bench "$engine" after "$AFTER_BIN" "$flow"
	done
	stop_server before
	stop_server after
	[[ $engine != postgres ]] || drop_pg_dbs
done

# The table: ratio = flow logins/s / client_credentials grants/s of the same binary and engine;
# change = after ratio / before ratio - 1 (for client_credentials itself: the raw change of /s).
echo
echo "Latch bench-compare: $DURATION x $CONCURRENCY workers, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "before = $BEFORE_BIN"
echo "after  = $AFTER_BIN"
echo
jq -rs --arg engines "$ENGINES" --arg flows "$FLOWS" '
	# fixed(d): the number with exactly d decimals (jq has no printf)
	def fixed(d): ((if . < 0 then -. else . end) * pow(10; d) | round) as $n
		| (if . < 0 and $n > 0 then "-" else "" end) as $sg | $n | tostring | (if length <= d then ("0" * (d + 1 - length)) + . else . end)
		| $sg + (if d > 0 then .[0:length - d] + "." + .[length - d:] else . end);
	def fmt(d): if . == null then "FAIL" else fixed(d) end;
	def pct: if . == null then "n/a" else (if . >= 0 then "+" else "" end) + (. * 100 | fixed(1)) + "%" end;
	def ok($e; $s; $f): [.[] | select(.engine == $e and .side == $s and .flow == $f and (.failed | not))] | last;
	def ps($e; $s; $f): ok($e; $s; $f) | (.per_second // null);
	# a totp pool of U users guarantees only 2U logins before the next 30 s step boundary: a run
	# near 2U/duration logins/s measured the pool, not the server
	def poolcap: . != null and .flow == "totp" and .users != null and .duration_s > 0
		and .per_second >= 0.9 * 2 * .users / .duration_s;
	. as $all
	| ($engines | split(" ") | map(select(. != ""))) as $E
	| ($flows | split(" ") | map(select(. != ""))) as $F
	| "| engine | flow | before /s | after /s | before ratio | after ratio | change |",
	  "|---|---|---:|---:|---:|---:|---:|",
	  ( $E[] as $e | $F[] as $f
	    | ($all | ps($e; "before"; $f)) as $b
	    | ($all | ps($e; "after"; $f)) as $a
	    | ($all | ps($e; "before"; "client_credentials")) as $bcc
	    | ($all | ps($e; "after"; "client_credentials")) as $acc
	    | (if $b != null and $bcc != null and $bcc > 0 then $b / $bcc else null end) as $br
	    | (if $a != null and $acc != null and $acc > 0 then $a / $acc else null end) as $ar
	    | (if $f == "client_credentials" then
	         (if $a != null and $b != null and $b > 0 then ($a / $b - 1 | pct) + " (raw)" else "n/a" end)
	       elif $br != null and $ar != null and $br > 0 then ($ar / $br - 1 | pct)
	       else "n/a" end) as $chg
	    | (if ($all | ok($e; "before"; $f) | poolcap) or ($all | ok($e; "after"; $f) | poolcap)
	       then $chg + " (TOTP pool-limited: raise TOTP_USERS)" else $chg end) as $chg
	    | "| \($e) | \($f) | \($b | fmt(1)) | \($a | fmt(1)) | \($br | fmt(4)) | \($ar | fmt(4)) | \($chg) |"
	  )
' "$RESULTS"
echo
echo "p99 latency and errors:"
echo
jq -rs --arg engines "$ENGINES" --arg flows "$FLOWS" '
	def run($e; $s; $f): [.[] | select(.engine == $e and .side == $s and .flow == $f)] | last;
	def errs: if . == null then "-" elif .failed then "FAIL (exit \(.bench_rc))"
		else "\(.errors)" + (if (.errors_by_code // {}) | length > 0
			then " (" + ([.errors_by_code | to_entries[] | "\(.key): \(.value)"] | join(", ")) + ")" else "" end) end;
	def p99: if . == null or .failed then "-" else (.p99_ms * 10 | round | tostring | (if length < 2 then "0" + . else . end) | .[0:length-1] + "." + .[length-1:]) end;
	. as $all
	| "| engine | flow | before p99 ms | after p99 ms | before errors | after errors |",
	  "|---|---|---:|---:|---|---|",
	  ( ($engines | split(" ") | map(select(. != "")))[] as $e
	    | ($flows | split(" ") | map(select(. != "")))[] as $f
	    | ($all | run($e; "before"; $f)) as $b
	    | ($all | run($e; "after"; $f)) as $a
	    | "| \($e) | \($f) | \($b | p99) | \($a | p99) | \($b | errs) | \($a | errs) |" )
' "$RESULTS"
echo
echo "ratio = logins/s / client_credentials grants/s of the same binary and engine; change = after ratio / before ratio - 1"
echo "(for client_credentials: after /s / before /s - 1, which includes drift)."
echo "raw JSON lines: $RESULTS"
