#!/usr/bin/env bash
# Starts Apache in the foreground (PID 1 via exec) after checking the run-time settings and
# writing the environment that mod_fcgid hands to every MapServer worker.
set -euo pipefail

fail() {
  echo "mapserver-ecs: $*" >&2
  exit 64
}

# Whole numbers only, within sane bounds, so a typo fails loudly instead of Apache guessing.
check_number() {
  local name="$1" min="$2" max="$3" value="${!1:-}"
  [[ "$value" =~ ^[0-9]+$ ]] || fail "$name must be a whole number from $min to $max, got '$value'"
  ((10#$value >= min && 10#$value <= max)) || fail "$name must be a whole number from $min to $max, got '$value'"
}
check_number LISTEN_PORT 1 65535
check_number FCGID_MAX_PROCESSES 1 1000
check_number FCGID_MIN_PROCESSES 0 1000
check_number FCGID_MAX_REQUESTS_PER_PROCESS 0 10000000
check_number FCGID_IO_TIMEOUT 1 3600
check_number FCGID_IDLE_TIMEOUT 0 86400
check_number FCGID_BUSY_TIMEOUT 1 86400
check_number APACHE_MAX_REQUEST_WORKERS 1 100
check_number APACHE_TIMEOUT 1 3600
((10#$FCGID_MIN_PROCESSES <= 10#$FCGID_MAX_PROCESSES)) ||
  fail "FCGID_MIN_PROCESSES ($FCGID_MIN_PROCESSES) must not exceed FCGID_MAX_PROCESSES ($FCGID_MAX_PROCESSES)"
[[ -r "$MAPSERVER_CONFIG_FILE" ]] || fail "MAPSERVER_CONFIG_FILE '$MAPSERVER_CONFIG_FILE' is not readable"

# AWS_ENDPOINT_URL (the SDKs' variable) also points GDAL's /vsis3/ at an emulator or an
# S3-compatible store, unless GDAL's own AWS_S3_ENDPOINT is given.
if [[ -n "${AWS_ENDPOINT_URL:-}" && -z "${AWS_S3_ENDPOINT:-}" ]]; then
  endpoint="${AWS_ENDPOINT_URL_S3:-$AWS_ENDPOINT_URL}"
  case "$endpoint" in
    http://*) export AWS_HTTPS="${AWS_HTTPS:-NO}" ;;
    https://*) ;;
    *) fail "AWS_ENDPOINT_URL must start with http:// or https://, got '$endpoint'" ;;
  esac
  endpoint="${endpoint#*://}"
  export AWS_S3_ENDPOINT="${endpoint%/}"
  export AWS_VIRTUAL_HOSTING="${AWS_VIRTUAL_HOSTING:-FALSE}"
fi

# Variables handed to the workers: region, endpoint, the ECS task role's credential URIs (GDAL
# fetches short-lived credentials from them, so no key is ever configured) and GDAL/PROJ options.
passed='^(AWS_[A-Z0-9_]+|GDAL_[A-Z0-9_]+|CPL_[A-Z0-9_]+|VSI_[A-Z0-9_]+|OGR_[A-Z0-9_]+|PROJ_[A-Z0-9_]+|CURL_CA_BUNDLE|SSL_CERT_FILE|MS_DEBUGLEVEL|TZ)$'
env_conf=/run/apache2/fcgid-env.conf
{
  while IFS='=' read -r -d '' name value; do
    [[ "$name" =~ $passed ]] || continue
    # One config line per variable: refuse values that would break out of a quoted string.
    if [[ "$value" == *$'\n'* || "$value" == *'"'* || "$value" == *\\* ]]; then
      fail "$name holds a newline, a double quote or a backslash, which cannot be passed to the MapServer workers"
    fi
    # FcgidInitialEnv sets the worker's process environment; PassEnv puts the variable into every
    # request's FastCGI parameters, which is what getenv() returns while MapServer handles a request.
    printf 'FcgidInitialEnv %s "%s"\nPassEnv %s\n' "$name" "$value" "$name"
  done < <(env -0)
} >"$env_conf"

access_log=()
access_log_setting="${ACCESS_LOG:-on}"
case "${access_log_setting,,}" in
  on | true | yes | 1) ;;
  off | false | no | 0) access_log=(-D ACCESS_LOG_OFF) ;;
  *) fail "ACCESS_LOG must be on or off, got '$access_log_setting'" ;;
esac

# Debian's envvars sets the run user, lock and log folders Apache's main config refers to.
set +u
# shellcheck source=/dev/null
. /etc/apache2/envvars
set -u
export APACHE_RUN_DIR=/run/apache2 APACHE_PID_FILE=/run/apache2/apache2.pid APACHE_LOCK_DIR=/var/lock/apache2
rm -f "$APACHE_PID_FILE"

if [[ $# -gt 0 ]]; then
  exec "$@"
fi

# Mapfiles that write CONFIG "MS_ERRORFILE" "/var/log/ms_error.log" need that file to open, but
# nobody reads a file inside a container, and MapServer writes it through C stdio, which keeps a
# long-lived FastCGI worker's lines in a buffer unless the file is a terminal. So the file is a link
# (made by the image) to a pseudo-terminal whose lines `script` copies onto the container's stderr,
# where docker logs and awslogs (CloudWatch) take every other error. Raw mode: lines pass as
# written. The follower stays a child of Apache after the exec below and ends with the container.
error_link=/run/mapserver-ecs/ms_error.log
rm -f "$error_link"
script --quiet --flush --echo never \
  --command "stty raw -echo && ln -sfn \"\$(tty)\" $error_link && exec sleep infinity" /dev/null \
  </dev/null >&2 2>/dev/null &
for ((i = 0; i < 50; i++)); do
  [[ -L "$error_link" ]] && break
  sleep 0.1
done
if [[ ! -L "$error_link" ]]; then
  # No terminal to be had: a plain file, followed (MapServer's buffer decides when lines show).
  echo "mapserver-ecs: no pseudo-terminal for $error_link; following it as a file" >&2
  : >>"$error_link"
  tail -n 0 -F "$error_link" >&2 2>/dev/null &
fi

exec /usr/sbin/apache2 -D FOREGROUND "${access_log[@]}"
