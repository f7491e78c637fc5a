# shellcheck shell=bash
# Background processes of the local stack (sourced by scripts/local-stack.sh): each started in its own
# session (setsid), so it outlives `up` and Ctrl-C in the terminal does not reach it; its pid and
# start time are recorded so `down` stops exactly that process group and never a recycled pid.
#
# The sourcing script sets run_dir (pid files) and log_dir (one log per process) before starting any.
run_dir=${run_dir:-}
log_dir=${log_dir:-}

say() { printf '%s\n' "$*" >&2; }
die() {
  say "local-stack: $*"
  exit 1
}

start_time_of() {
  # Field 22 of /proc/PID/stat (after the command name, which may hold spaces).
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  read -r -a fields <<<"$stat"
  printf '%s' "${fields[19]}"
}

start_background() {
  local name="$1"
  shift
  mkdir -p "$run_dir" "$log_dir"
  # fd 9 (the state lock) is closed for the child so the lock ends with this command.
  setsid "$@" >"$log_dir/$name.log" 2>&1 </dev/null 9>&- &
  local pid=$!
  printf '%s %s\n' "$pid" "$(start_time_of "$pid" || echo 0)" >"$run_dir/$name.pid"
}

# Prints the pid of a recorded process that is still the one we started, or fails.
running_pid() {
  local file="$run_dir/$1.pid" pid started
  [[ -f "$file" ]] || return 1
  read -r pid started <"$file" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(start_time_of "$pid" || true)" == "$started" ]] || return 1
  printf '%s' "$pid"
}

stop_background() {
  local name="$1" pid
  if pid="$(running_pid "$name")"; then
    # The whole group: emulator.sh runs moto_server and a proxy, for example.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 -- "-$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 -- "-$pid" 2>/dev/null; then
      say "  $name did not stop within 10s: killing it"
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    say "  stopped $name (pid $pid)"
  fi
  rm -f "$run_dir/$name.pid"
}

# Waits until a URL answers with any HTTP status, showing progress.
wait_for_http() {
  local what="$1" url="$2" timeout="$3" process="$4" started=$SECONDS
  until curl -s -o /dev/null --max-time 2 "$url"; do
    if ! running_pid "$process" >/dev/null; then
      say "local-stack: $what exited; last lines of $log_dir/$process.log:"
      tail -n 20 "$log_dir/$process.log" >&2 || true
      return 1
    fi
    if ((SECONDS - started >= timeout)); then
      say "local-stack: $what did not answer $url within ${timeout}s"
      return 1
    fi
    if (((SECONDS - started) % 5 == 4)); then say "  … waiting for $what ($((SECONDS - started))s)"; fi
    sleep 1
  done
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
