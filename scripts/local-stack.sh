#!/usr/bin/env bash
# The whole system on this machine (npm start / npm stop).
#
#   up      installs what is missing, starts the Docker engine, the AWS API emulator, a local image
#           registry and a relay that lets containers reach the emulator; bootstraps the emulated
#           account; runs the release pipeline end to end through the CLI (real Packer against the
#           emulator, the real image build and push to the local registry, task definition, roll);
#           then does what an ECS container instance does: mounts the bucket with the AMI's own
#           mount script (s3fs) and runs the service's registered task definition with Docker.
#           After the roll it plays the instance the group has in service: registered with the
#           cluster (ready attribute), its health watched by the AMI's mapfiles-instance, which
#           drains it in ECS and sets it Unhealthy in the group when the bucket stays unhealthy.
#           Seeds the bucket with an example mapfile and COG, waits for health, prints the URLs.
#           Running it again replaces the running stack. Ctrl-C tears everything down.
#   down    removes the containers, unmounts the bucket, stops every process `up` started.
#   status  shows what runs.
#
# Usage: scripts/local-stack.sh up|down|status
# Environment (defaults in brackets):
#   LOCAL_STACK_DIR            state: pids, logs, registry storage, mount point   [.local]
#   LOCAL_STACK_EMULATOR_PORT  AWS API emulator on 127.0.0.1                     [4566]
#   LOCAL_STACK_MOTO_PORT      moto_server behind the emulator; containers reach  [emulator port + 1]
#                              the emulator on this port of the Docker bridge
#   LOCAL_STACK_REGISTRY_PORT  image registry on 127.0.0.1                       [5000]
#   LOCAL_STACK_WMS_PORT       MapServer on 127.0.0.1 (the task's host port)     [8080]
#   LOCAL_STACK_BUCKET         the mapfile bucket                                [mapserver-ecs-local]
#   LOCAL_STACK_MOUNT_DRIVER   how the instance serves the bucket: mirror or s3fs [mirror]
#   LOCAL_STACK_UNHEALTHY_GRACE_SECONDS  seconds the bucket may stay unhealthy before the
#                              instance takes itself out of service (unhealthy-grace-seconds) [300]
#   LOCAL_STACK_KEEP_ON_FAILURE=1  leave a failed `up` running, to look at it
# Every AWS request goes through the emulator's proxy, each actor (pipeline and Packer, the
# instance's mount script and mirror or s3fs, the task's GDAL) signing with its own dummy key, and
# is recorded as the IAM checks AWS would make in $LOCAL_STACK_DIR/iam-requests.jsonl.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=local-stack/lib.sh
source scripts/local-stack/lib.sh

state_dir="${LOCAL_STACK_DIR:-$repo/.local}"
emulator_port="${LOCAL_STACK_EMULATOR_PORT:-4566}"
moto_port="${LOCAL_STACK_MOTO_PORT:-$((${emulator_port//[^0-9]/0} + 1))}"
registry_port="${LOCAL_STACK_REGISTRY_PORT:-5000}"
wms_port="${LOCAL_STACK_WMS_PORT:-8080}"
bucket="${LOCAL_STACK_BUCKET:-mapserver-ecs-local}"
mount_driver="${LOCAL_STACK_MOUNT_DRIVER:-mirror}"
unhealthy_grace_seconds="${LOCAL_STACK_UNHEALTHY_GRACE_SECONDS:-300}"
region=us-east-1
cluster=mapserver
service=mapserver
auto_scaling_group=mapserver-ecs
# The instance profile the emulated launch template names; nothing reads its policies here.
instance_profile=mapserver-ecs-local
# The path the task definition binds on an ECS instance (ecs/task-definition.json.hbs).
instance_mount_point=/mnt/mapfiles

for port_var in emulator_port moto_port registry_port wms_port; do
  value="${!port_var}"
  if ! [[ "$value" =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
    say "local-stack: LOCAL_STACK_${port_var^^} must be a port number from 1 to 65535, got '$value'"
    exit 2
  fi
done
if [[ "$mount_driver" != mirror && "$mount_driver" != s3fs ]]; then
  say "local-stack: LOCAL_STACK_MOUNT_DRIVER must be mirror or s3fs (mountpoint is not packaged for Debian), got '$mount_driver'"
  exit 2
fi
# The bounds the instance's mapfiles-mount accepts for UNHEALTHY_GRACE_SECONDS.
if ! [[ "$unhealthy_grace_seconds" =~ ^[0-9]{1,5}$ ]] || ((10#$unhealthy_grace_seconds < 5 || 10#$unhealthy_grace_seconds > 86400)); then
  say "local-stack: LOCAL_STACK_UNHEALTHY_GRACE_SECONDS must be a number of seconds from 5 to 86400, got '$unhealthy_grace_seconds'"
  exit 2
fi
if [[ "$state_dir" != /* ]]; then state_dir="$repo/$state_dir"; fi
if [[ "$state_dir" =~ [[:space:]\'\"\\] ]]; then
  say "local-stack: LOCAL_STACK_DIR must not contain spaces, quotes or backslashes, got '$state_dir'"
  exit 2
fi

run_dir="$state_dir/run"
log_dir="$state_dir/logs"
mount_point="$state_dir/mnt/mapfiles"
mount_config="$state_dir/mount.conf"
# The health watcher's settings: mount.conf with the emulator's API endpoint (see watch_instance).
watch_config="$state_dir/watch.conf"
ready_file="$run_dir/ecs-attributes.env"
mapfiles_dir="$state_dir/mapfiles"
# The container the service's task runs in, once run_task started it.
task_container=''
# Containers are named after the state folder, so two stacks (a developer's and a test's) never
# take each other's containers.
if [[ "$state_dir" == "$repo/.local" ]]; then
  stack_name=mapserver-ecs-local
else
  stack_name="mapserver-ecs-local-$(printf '%s' "$state_dir" | cksum | cut -d' ' -f1)"
fi
stack_label="mapserver-ecs.local-stack=$state_dir"

endpoint="http://127.0.0.1:$emulator_port"
# S3 traffic (s3fs, the mirror, GDAL, uploads) goes through the proxy too, so that its IAM record
# (and its S3 event notifications) see every request. AWS_ENDPOINT_URL_S3 is the SDKs' own
# per-service override.
s3_endpoint="$endpoint"
# Where the proxy records each request's IAM checks (one JSON line each): cheap, so always.
iam_record="$state_dir/iam-requests.jsonl"
# moto accepts any credentials: these are its documented dummies, used only against the emulator.
emulator_env=(
  "AWS_ENDPOINT_URL=$endpoint"
  "AWS_ENDPOINT_URL_S3=$s3_endpoint"
  "AWS_REGION=$region"
  "AWS_DEFAULT_REGION=$region"
  "AWS_ACCESS_KEY_ID=testing"
  "AWS_SECRET_ACCESS_KEY=testing"
  "AWS_EC2_METADATA_DISABLED=true"
)
# The dummy access key id of each actor (actor_key pipeline|mirror|s3fs|gdal|instance), read in start_emulator:
# the emulator tells the roles apart by it.
declare -A actor_keys=()
actor_key() {
  [[ -n "${actor_keys[$1]:-}" ]] || die "local-stack: no access key id for actor '$1'"
  printf '%s' "${actor_keys[$1]}"
}

phase_started=0
phase() {
  phase_started=$SECONDS
  say ""
  say "==> $*"
}
phase_done() {
  say "<== done in $((SECONDS - phase_started))s"
}

# The project's CLI from source, with the emulator's environment.
cli() {
  env "${emulator_env[@]}" AWS_ACCESS_KEY_ID="$(actor_key pipeline)" NODE_NO_WARNINGS=1 MAPSERVER_ECS_BUILD_DIR="$state_dir/build/packer" \
    npx --no-install tsx action/src/index.ts "$@"
}
helper() {
  local script="$1"
  shift
  env "${emulator_env[@]}" NODE_NO_WARNINGS=1 npx --no-install tsx "scripts/local-stack/$script.ts" "$@"
}

stack_containers() {
  docker ps --all --quiet --filter "label=$stack_label" 2>/dev/null || true
}

is_mounted() {
  awk -v mp="$mount_point" '$2 == mp { found = 1 } END { exit !found }' /proc/mounts
}

down() {
  local started=$SECONDS
  say "local-stack: stopping the stack in $state_dir"
  # Containers first: a container's bind mount keeps the FUSE mount (and s3fs) alive.
  local containers
  containers="$(stack_containers)"
  if [[ -n "$containers" ]]; then
    # shellcheck disable=SC2086 # one id a word
    docker rm --force --volumes $containers >/dev/null
    say "  removed containers: $(tr '\n' ' ' <<<"$containers")"
  fi
  # The watcher first: it must not take the instance out of service because the mirror stops.
  stop_background watch
  local was_mounted=0
  if is_mounted; then was_mounted=1; fi
  # The mount script also stops the mirror (and deletes its queue), mounted or not.
  if [[ -f "$mount_config" && -f packer/files/usr/local/sbin/mapfiles-mount ]]; then
    MAPFILES_MOUNT_CONFIG="$mount_config" MAPFILES_READY_FILE="$ready_file" \
      bash packer/files/usr/local/sbin/mapfiles-mount unmount >&2 2>/dev/null || true
  fi
  if is_mounted; then
    if is_mounted; then fusermount3 -u "$mount_point" 2>/dev/null || umount "$mount_point" 2>/dev/null || umount -l "$mount_point" || true; fi
    if is_mounted; then
      say "local-stack: $mount_point is still mounted"
      return 1
    fi
  fi
  if ((was_mounted)); then say "  unmounted $mount_point"; fi
  local name
  for name in relay registry emulator; do stop_background "$name"; done
  rm -f "$state_dir/stack.env" "$state_dir/emulator.env" "$state_dir/instance.env"
  say "local-stack: stopped in $((SECONDS - started))s"
}

status() {
  local name pid any=0
  for name in emulator registry relay watch; do
    if pid="$(running_pid "$name")"; then
      say "$name: running (pid $pid)"
      any=1
    fi
  done
  if is_mounted; then say "mount: $mount_point"; any=1; fi
  local containers
  containers="$(stack_containers)"
  if [[ -n "$containers" ]]; then
    docker ps --all --filter "label=$stack_label" --format '{{.Names}}: {{.Status}} {{.Ports}}' >&2
    any=1
  fi
  if [[ -f "$state_dir/stack.env" ]]; then cat "$state_dir/stack.env"; fi
  ((any)) || say "nothing runs for $state_dir"
}

# The docker bridge's gateway address: where containers reach this machine.
bridge_gateway() {
  local address
  address="$(ip -4 -o addr show dev docker0 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')"
  if [[ -z "$address" ]]; then
    address="$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null)"
  fi
  [[ -n "$address" ]] || return 1
  printf '%s' "$address"
}

# What `up` needs from this machine, checked before anything is installed, started or built: each
# problem is one line with its cause and the fix.
port_setting() {
  case "$1" in
    "$emulator_port") echo LOCAL_STACK_EMULATOR_PORT ;;
    "$moto_port") echo LOCAL_STACK_MOTO_PORT ;;
    "$registry_port") echo LOCAL_STACK_REGISTRY_PORT ;;
    *) echo LOCAL_STACK_WMS_PORT ;;
  esac
}
port_holder() {
  local holder
  holder="$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -n1 | sed 's/users:(("\([^"]*\)",pid=\([0-9]*\)/\1, pid \2/')" || true
  [[ -n "$holder" ]] && printf ' (%s)' "$holder"
  return 0
}
preflight() {
  command -v moto_server >/dev/null 2>&1 ||
    die "moto_server (the AWS API emulator) is not on PATH: install it with pip install 'moto[server]' into a Python on PATH, then run npm start again"
  if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
    [[ $(id -u) -eq 0 ]] ||
      die "Docker is not installed: install the docker.io package (sudo apt-get install docker.io), or run npm start as root, which installs it"
  fi
  # Ports an earlier stack of this state folder holds are freed when `up` replaces it.
  if [[ -f "$state_dir/stack.env" ]] || running_pid emulator >/dev/null || running_pid registry >/dev/null || running_pid relay >/dev/null; then
    return 0
  fi
  check_ports_free
}
check_ports_free() {
  local port
  for port in "$emulator_port" "$moto_port" "$registry_port" "$wms_port"; do
    if port_in_use "$port"; then
      die "port $port on 127.0.0.1 is taken by another program$(port_holder "$port"): stop it, or choose another port with $(port_setting "$port")=<port> npm start"
    fi
  done
}

up_completed=0
on_exit() {
  local status=$?
  trap - EXIT INT TERM
  if ((up_completed == 0)); then
    if [[ "${LOCAL_STACK_KEEP_ON_FAILURE:-0}" == 1 ]]; then
      say "local-stack: up failed (exit $status); the stack is left as it was (LOCAL_STACK_KEEP_ON_FAILURE=1): npm stop removes it"
    else
      say "local-stack: up did not finish (exit $status): tearing down what it started"
      down || true
    fi
  fi
  exit "$status"
}
on_interrupt() {
  say ""
  say "local-stack: interrupted"
  exit 130
}

# Standard output carries only the stack's URLs at the end: every phase reports on stderr.
install_tools() {
  phase "Tools (scripts/setup.sh), Docker engine, base image"
  bash scripts/setup.sh >&2
  bash scripts/docker-engine.sh >&2
  bash scripts/base-image.sh debian:trixie-slim >&2
  phase_done
}

replace_earlier_stack() {
  if [[ -n "$(stack_containers)" ]] || is_mounted || running_pid emulator >/dev/null || running_pid registry >/dev/null; then
    phase "An earlier stack runs in $state_dir: replacing it"
    down
    phase_done
  fi
  check_ports_free
  mkdir -p "$run_dir" "$log_dir" "$state_dir/registry/data" "$mount_point"
}

start_emulator() {
  phase "AWS API emulator on $endpoint (moto on $s3_endpoint)"
  rm -f "$iam_record"
  start_background emulator env EMULATOR_IAM_RECORD="$iam_record" bash scripts/emulator.sh --port "$emulator_port" --moto-port "$moto_port"
  wait_for_http "the emulator" "$endpoint/" 60 emulator
  wait_for_http "moto" "http://127.0.0.1:$moto_port/moto-api/" 10 emulator
  local line
  while IFS= read -r line; do actor_keys[${line%%=*}]="${line#*=}"; done < <(helper emulator-account actor-keys)
  say "  IAM checks of every request recorded in $iam_record"
  {
    echo "# The local stack's emulated AWS account (dummy credentials, emulator only): set -a; . $state_dir/emulator.env; set +a"
    printf '%s\n' "${emulator_env[@]}"
  } >"$state_dir/emulator.env"
  phase_done
}

start_registry() {
  phase "Image registry on 127.0.0.1:$registry_port (storage: $state_dir/registry/data)"
  start_background registry env REGISTRY_HTTP_ADDR="127.0.0.1:$registry_port" \
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$state_dir/registry/data" \
    docker-registry serve "$repo/scripts/local-stack/registry.yml"
  wait_for_http "the registry" "http://127.0.0.1:$registry_port/v2/" 30 registry
  phase_done
}

start_relay() {
  phase "Relay: containers reach the emulator's proxy as host.docker.internal:$moto_port"
  local gateway
  gateway="$(bridge_gateway)" || die "cannot find the Docker bridge's gateway address (is docker0 up?)"
  # Listens only on the Docker bridge (reachable from this machine's containers, not from the
  # network) and forwards to the emulator on loopback.
  start_background relay socat "TCP-LISTEN:$moto_port,bind=$gateway,fork,reuseaddr" "TCP:127.0.0.1:$emulator_port"
  wait_for_http "the relay" "http://$gateway:$moto_port/" 10 relay
  phase_done
}

bootstrap_account() {
  phase "Bootstrap the emulated account (first AMI, cluster, launch template, Auto Scaling group, service, bucket)"
  local network subnets security_groups
  network="$(helper emulator-account network)"
  subnets="$(sed -n 's/^subnets=//p' <<<"$network")"
  security_groups="$(sed -n 's/^security-groups=//p' <<<"$network")"
  say "  default VPC: subnets $subnets, security group $security_groups"
  helper emulator-account create-bucket "$bucket"
  # Bootstrap starts the launch template from an AMI baked here (the base AMI has no mount driver);
  # the release below reuses it while its inputs are unchanged.
  cli bake --aws-region "$region" --bucket "$bucket" --subnets "$subnets" --mount-driver "$mount_driver" >"$state_dir/bake.out"
  cli bootstrap --aws-region "$region" --bucket "$bucket" --cluster "$cluster" --service "$service" \
    --auto-scaling-group "$auto_scaling_group" \
    --subnets "$subnets" --security-groups "$security_groups" --instance-profile "$instance_profile" \
    --host-port "$wms_port" --registry "127.0.0.1:$registry_port" --mount-driver "$mount_driver" >"$state_dir/bootstrap.out"
  phase_done
}

seed_bucket() {
  phase "Seed the bucket with the example mapfile and a generated COG (sync-mapfiles)"
  rm -rf "$mapfiles_dir"
  mkdir -p "$mapfiles_dir/data" "$state_dir/cache"
  # Cached by the generator's checksum: a changed generator makes a new COG.
  local cog_cache
  cog_cache="$state_dir/cache/example-cog-$(cksum <scripts/examples/make-cog.sh | cut -d' ' -f1).tif"
  if [[ ! -s "$cog_cache" ]]; then
    bash scripts/examples/make-cog.sh "$cog_cache"
  fi
  cp "$cog_cache" "$mapfiles_dir/data/example-cog.tif"
  # The example names its COG by bucket: follow LOCAL_STACK_BUCKET.
  sed "s#/vsis3/mapserver-ecs-local/#/vsis3/$bucket/#" scripts/examples/bucket/example.map >"$mapfiles_dir/example.map"
  # The fonts its labels use (DejaVu, in the image).
  cp scripts/examples/bucket/fonts.txt "$mapfiles_dir/fonts.txt"
  cli sync-mapfiles --aws-region "$region" --bucket "$bucket" --mapfiles-dir "$mapfiles_dir" >/dev/null
  phase_done
}

# What a container instance does at boot: serve the bucket with the AMI's own mount script, then
# let the ECS agent register the instance.
mount_bucket() {
  phase "Container instance: serve s3://$bucket at $mount_point with $mount_driver (the AMI's mapfiles-mount), register with the cluster"
  # MapServer's user must reach the mount point, as on an instance (/mnt/mapfiles).
  if ! setpriv --reuid=33 --regid=33 --clear-groups test -x "$state_dir/mnt" 2>/dev/null; then
    die "uid 33 (www-data, MapServer's user) cannot reach $state_dir/mnt: a parent folder is private; set LOCAL_STACK_DIR to a folder under /var/tmp, for example"
  fi
  # The mirror's topic and queue as the pipeline names them; this machine plays the instance "local".
  local mirror_names mirror_topic mirror_queue
  mirror_names="$(helper emulator-account mirror-names "$bucket" local)"
  mirror_topic="$(sed -n 's/^topic=//p' <<<"$mirror_names")"
  mirror_queue="$(sed -n 's/^queue=//p' <<<"$mirror_names")"
  # The same keys the ECS user data writes on an instance, plus the emulator's endpoint.
  cat >"$mount_config" <<CONF
BUCKET='$bucket'
BUCKET_PREFIX=''
AWS_REGION='$region'
MOUNT_POINT='$mount_point'
MOUNT_DRIVER='$mount_driver'
MOUNT_UID='33'
MOUNT_GID='33'
MOUNT_UMASK='0022'
S3_ENDPOINT='$s3_endpoint'
MIRROR_ROOT='$state_dir/mirror'
MIRROR_TOPIC='$mirror_topic'
MIRROR_QUEUE='$mirror_queue'
AUTO_SCALING_GROUP='$auto_scaling_group'
UNHEALTHY_GRACE_SECONDS='$unhealthy_grace_seconds'
CONF
  # s3fs or the mirror stays behind as a daemon: it must not keep the state lock (fd 9). The mount
  # script and its driver act as the instance role, signing as that driver.
  env "${emulator_env[@]}" AWS_ACCESS_KEY_ID="$(actor_key "$mount_driver")" MAPFILES_MOUNT_CONFIG="$mount_config" MAPFILES_READY_FILE="$ready_file" \
    MAPFILES_MIRROR_JS="$repo/packer/files/usr/local/lib/mapserver-ecs/mirror/index.js" MAPFILES_MIRROR_LOG="$log_dir/mirror.log" \
    bash packer/files/usr/local/sbin/mapfiles-mount mount >&2 9>&-
  # The ECS agent starts once the mount is ready and registers the instance with its attributes.
  helper emulator-account register-instance "$cluster" "$auto_scaling_group" "$ready_file" | sed 's/^/  registered: /' >&2
  phase_done
}

release() {
  phase "Release: bake (Packer), image (build + push), task definition, roll"
  cli release --aws-region "$region" --bucket "$bucket" --cluster "$cluster" --service "$service" \
    --auto-scaling-group "$auto_scaling_group" \
    --registry "127.0.0.1:$registry_port" --host-port "$wms_port" --wait-minutes 10 --mount-driver "$mount_driver" \
    >"$state_dir/release.out"
  sed 's/^/  /' "$state_dir/release.out" >&2
  phase_done
}

# The roll replaced the instance registered before the release: play the one the group has in
# service now (as its ECS agent would register it), and watch its health as the AMI does.
adopt_instance() {
  phase "Container instance: the group's instance in service after the roll, registered with the cluster; its health watched"
  local registered arn instance_id
  registered="$(helper emulator-account register-instance "$cluster" "$auto_scaling_group" "$ready_file")"
  arn="${registered%% *}"
  instance_id="$(sed -n 's/^[^ ]* (instance \([^:]*\):.*/\1/p' <<<"$registered")"
  [[ -n "$arn" && -n "$instance_id" ]] || die "could not read the registered container instance from: $registered"
  say "  registered: $registered"
  printf 'INSTANCE_ID=%s\nCONTAINER_INSTANCE_ARN=%s\n' "$instance_id" "$arn" >"$state_dir/instance.env"
  watch_instance "$instance_id" "$arn"
  phase_done
}

watch_instance() {
  local instance_id="$1" arn="$2"
  # Auto Scaling and ECS calls go to the emulator's API endpoint, which models what moto lacks
  # (an instance set Unhealthy is replaced); S3 then goes there too, should s3fs need a remount.
  sed "s#^S3_ENDPOINT=.*#S3_ENDPOINT='$endpoint'#" "$mount_config" >"$watch_config"
  # The agent's introspection API is not played here: its cluster and ARN are given instead.
  start_background watch env "${emulator_env[@]}" AWS_ACCESS_KEY_ID="$(actor_key instance)" MAPFILES_MOUNT_CONFIG="$watch_config" MAPFILES_READY_FILE="$ready_file" \
    MAPFILES_MOUNT="$repo/packer/files/usr/local/sbin/mapfiles-mount" MAPFILES_RUN_DIR="$run_dir/instance" \
    MAPFILES_MIRROR_JS="$repo/packer/files/usr/local/lib/mapserver-ecs/mirror/index.js" MAPFILES_MIRROR_LOG="$log_dir/mirror.log" \
    MAPFILES_INSTANCE_ID="$instance_id" MAPFILES_CONTAINER_INSTANCE_ARN="$arn" MAPFILES_CLUSTER="$cluster" \
    bash packer/files/usr/local/sbin/mapfiles-instance watch
  say "  health watcher: out of service after ${unhealthy_grace_seconds}s unhealthy (log: $log_dir/watch.log)"
}

# Sets task_container to the first container it started.
run_task() {
  phase "Run the service's task definition with Docker (as the ECS agent would)"
  local containers
  # The emulator's endpoint and dummy credentials are added for the local stack only: on ECS the
  # task role gives GDAL short-lived credentials and S3 is S3.
  containers="$(helper run-task --region "$region" --cluster "$cluster" --service "$service" \
    --host-path "$instance_mount_point=$mount_point" \
    --env "AWS_ENDPOINT_URL=http://host.docker.internal:$moto_port" \
    --env AWS_ACCESS_KEY_ID="$(actor_key gdal)" --env AWS_SECRET_ACCESS_KEY=testing \
    --add-host host.docker.internal:host-gateway \
    --label "$stack_label" --name-prefix "$stack_name")"
  task_container="$(head -n1 <<<"$containers")"
  local waited=$SECONDS health
  while :; do
    health="$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$task_container")"
    [[ "$health" == healthy ]] && break
    if [[ "$health" == unhealthy || "$health" == exited || "$health" == dead ]]; then
      docker logs --tail 30 "$task_container" >&2 || true
      die "container $task_container is $health"
    fi
    if ((SECONDS - waited > 120)); then die "container $task_container was not healthy within 120s (state: $health)"; fi
    if (((SECONDS - waited) % 10 < 2)); then say "  … waiting for $task_container to be healthy ($((SECONDS - waited))s): $health"; fi
    sleep 2
  done
  phase_done
}

# Checks that MapServer answers, then writes the stack's URLs to stack.env.
check_and_describe() {
  local base="http://127.0.0.1:$wms_port"
  local capabilities="$base/maps/example?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities"
  local getmap="$base/maps/example?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=relief&STYLES=&CRS=EPSG:4326&BBOX=-90,-180,90,180&WIDTH=512&HEIGHT=256&FORMAT=image/png"
  # Read the whole answer first: grep -q would close the pipe early and fail curl.
  local answer
  answer="$(curl -fsS --max-time 30 "$capabilities" 2>&1 || true)"
  if [[ "$answer" != *WMS_Capabilities* ]]; then
    docker logs --tail 30 "$task_container" >&2 || true
    die "MapServer does not answer GetCapabilities at $capabilities"
  fi
  {
    echo "Viewer: $base/viewer/?map=/mapfiles/example.map"
    echo "WMS: $capabilities"
    echo "Endpoint: $endpoint"
    echo "Bucket: $bucket"
    echo "GetMap: $getmap"
    echo "Edit: change $mapfiles_dir/example.map (e.g. its COLORRANGE), then: curl -sS --aws-sigv4 aws:amz:$region:s3 --user testing:testing -T $mapfiles_dir/example.map $endpoint/$bucket/example.map  - GetMap shows it within a second"
    echo "Sync: set -a; . $state_dir/emulator.env; set +a; npx tsx action/src/index.ts sync-mapfiles --bucket $bucket --mapfiles-dir $mapfiles_dir"
  } >"$state_dir/stack.env"
}

up() {
  local started=$SECONDS
  preflight
  trap on_exit EXIT
  trap on_interrupt INT TERM
  install_tools
  replace_earlier_stack
  start_emulator
  start_registry
  start_relay
  bootstrap_account
  seed_bucket
  mount_bucket
  release
  adopt_instance
  run_task
  check_and_describe
  up_completed=1
  say ""
  say "local-stack: up in $((SECONDS - started))s. Stop it with: npm stop"
  cat "$state_dir/stack.env"
}

command="${1:-}"
case "$command" in
  up | down | status) ;;
  *)
    say "usage: scripts/local-stack.sh up|down|status"
    exit 2
    ;;
esac

mkdir -p "$state_dir"
# One command at a time per state folder.
exec 9>"$state_dir/lock"
if ! flock --nonblock 9; then die "another local-stack command runs on $state_dir"; fi

case "$command" in
  up) up ;;
  down) down ;;
  status) status ;;
esac
