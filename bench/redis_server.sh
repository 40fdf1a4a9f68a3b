# redis_server.sh — a throwaway redis-server for the benchmarks, sourced by
# bench/delivery.sh and bench/gateway_e2e.sh.
#
# The caller sets $tmp (a private temp dir). Provides:
#   start_redis yes|no   (re)start a server on $tmp/redis.sock with AOF
#                        on or off (appendfsync everysec), no RDB saves;
#                        with IG_BENCH_TCP=PORT also on 127.0.0.1:PORT
#   stop_redis           stop it by PID (a no-op when none runs)
#   redis_cpu            CPU seconds (user + system) the server has used
#   write_gateway_conf   the benchmarks' gateway.conf (full rule base of
#                        $here/rules, near duplicates on, a stream
#                        forwarder, no API) and an empty sources file in
#                        $tmp, for the server above; sets $target
# and stops the server and removes $tmp on exit.

rpid=""
stop_redis() {
    if [ -n "$rpid" ]; then
        kill "$rpid" 2>/dev/null || true
        wait "$rpid" 2>/dev/null || true
        rpid=""
    fi
}
trap 'stop_redis; rm -rf "$tmp"' EXIT

start_redis() { # start_redis yes|no
    stop_redis
    rm -rf "$tmp/redis" && mkdir -p "$tmp/redis"
    redis-server --bind 127.0.0.1 --port "${IG_BENCH_TCP:-0}" --unixsocket "$tmp/redis.sock" --dir "$tmp/redis" \
        --save "" --appendonly "$1" --appendfsync everysec \
        --daemonize no --logfile "$tmp/redis.log" &
    rpid=$!
    for _ in $(seq 1 100); do
        redis-cli -s "$tmp/redis.sock" ping 2>/dev/null | grep -q PONG && return
        sleep 0.1
    done
    echo "redis-server did not start" >&2
    exit 3
}

redis_cpu() {
    redis-cli -s "$tmp/redis.sock" INFO cpu | tr -d '\r' |
        awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'
}

write_gateway_conf() {
    local redis_conf
    : >"$tmp/sources.conf"
    if [ -n "${IG_BENCH_TCP:-}" ]; then
        target="127.0.0.1:$IG_BENCH_TCP"
        redis_conf="host = 127.0.0.1
port = $IG_BENCH_TCP"
    else
        target="$tmp/redis.sock"
        redis_conf="socket = $tmp/redis.sock"
    fi
    cat >"$tmp/gateway.conf" <<EOC
[gateway]
rules = $here/rules
sources = sources.conf
state_dir = state
log_level = warn
max_inflight = 1024

[redis]
$redis_conf
prefix = bench

[dedup]
near = true

[forward platform]
kind = stream
stream = bench:candidates

[api]
listen = ""
max_push_items = 256
EOC
}
