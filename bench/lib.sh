# Shell helpers the bench scripts share; sourced, not run. Each script sets RESULTS and WORK first.

say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

# A loopback port nothing listens on.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! { exec 9<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then echo "$port"; return; fi
    exec 9>&-
  done
}

median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# Stops the process $1 with TERM, then KILL after 30 s.
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# Lines of the log $1 matching $2.
log_count() { grep -cE "$2" "$1" || true; }

# Waits (at most 120 s) until the log $1 has $3 lines matching $2, while the process $4 lives.
await_log_of() {
  local i
  for ((i = 0; i < 6000; i++)); do
    [ "$(log_count "$1" "$2")" -ge "$3" ] && return 0
    kill -0 "$4" 2>/dev/null || { tail -n 20 "$1" >&2; echo "bench: kiln exited" >&2; exit 1; }
    sleep 0.02
  done
  tail -n 20 "$1" >&2
  echo "bench: no '$2' x$3 in $1 after 120 s" >&2
  exit 1
}

# Milliseconds of the day of the $3-th line of the log $1 matching $2 (its timestamp, HH:MM:SS,mmm).
log_ms() {
  grep -E "$2" "$1" | sed -n "${3}p" | awk '{split($2, t, /[:,]/); print ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000 + t[4]}'
}
