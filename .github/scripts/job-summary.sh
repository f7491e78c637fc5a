#!/usr/bin/env bash
# Prints the end-of-job summary of a release or redeploy as Markdown: AMI, image digest, task
# definition and the instance refresh's result, from the action's outputs passed as environment
# variables (OUTCOME, BASE_AMI_ID, AMI_ID, IMAGE_URI, TASK_DEFINITION_ARN, LAUNCH_TEMPLATE_VERSION,
# INSTANCE_REFRESH_ID, DEREGISTERED_AMIS, PLAN). Unset outputs show as "not run" rather than blank.
# PLAN (the release's `plan` output, "step: what and why" per line) adds what each step did and
# which steps reused what was there.
#
# Usage: OUTCOME=success AMI_ID=ami-... bash .github/scripts/job-summary.sh >>"$GITHUB_STEP_SUMMARY"
set -euo pipefail

# Markdown table cells: a pipe or a newline in a value would break the row.
cell() {
  local value="${1:-}" when_empty="${2:-_not run_}"
  if [[ -z "$value" ]]; then
    printf '%s' "$when_empty"
    return
  fi
  value="${value//|/\\|}"
  value="${value//$'\n'/ }"
  printf '%s%s%s' '`' "$value" '`'
}

outcome="${OUTCOME:-unknown}"
image_uri="${IMAGE_URI:-}"
image_digest=""
if [[ "$image_uri" == *@sha256:* ]]; then
  image_digest="sha256:${image_uri##*@sha256:}"
fi

refresh_result=""
if [[ -n "${INSTANCE_REFRESH_ID:-}" ]]; then
  refresh_result="${INSTANCE_REFRESH_ID} (launch template version ${LAUNCH_TEMPLATE_VERSION:-?}): "
  if [[ "$outcome" == success ]]; then refresh_result+="Successful"; else refresh_result+="see the log (job ${outcome})"; fi
fi

# Steps whose plan line says they reused or left things as they were.
reused=()
changed=0
if [[ -n "${PLAN:-}" ]]; then
  while IFS= read -r line; do
    step="${line%%: *}"
    what="${line#*: }"
    case "$what" in
      reuse* | "image unchanged"* | unchanged*) reused+=("$step") ;;
      skipped* | "not needed"* | given* | "nothing to deregister"* | ami-*) ;;
      *) changed=1 ;;
    esac
  done <<<"$PLAN"
fi

case "$outcome" in
  success) if [[ -n "${PLAN:-}" && "$changed" == 0 ]]; then headline="Released (nothing changed)"; else headline="Released"; fi ;;
  cancelled) headline="Cancelled: see the log for what was left" ;;
  skipped) headline="Skipped" ;;
  *) headline="Failed: the log says which step failed and what state it left" ;;
esac

printf '## mapserver-ecs: %s\n\n' "$headline"
printf '| What | Value |\n| --- | --- |\n'
printf '| AMI | %s |\n' "$(cell "${AMI_ID:-}")"
printf '| Base AMI | %s |\n' "$(cell "${BASE_AMI_ID:-}")"
printf '| Image digest | %s |\n' "$(cell "$image_digest")"
printf '| Image | %s |\n' "$(cell "$image_uri")"
printf '| Task definition | %s |\n' "$(cell "${TASK_DEFINITION_ARN:-}")"
printf '| Instance refresh | %s |\n' "$(cell "$refresh_result")"
printf '| Deregistered AMIs | %s |\n' "$(cell "${DEREGISTERED_AMIS:-}" none)"

if [[ -n "${PLAN:-}" ]]; then
  printf '\n| Step | What and why |\n| --- | --- |\n'
  while IFS= read -r line; do
    what="${line#*: }"
    printf '| %s | %s |\n' "${line%%: *}" "${what//|/\\|}"
  done <<<"$PLAN"
  if ((${#reused[@]} > 0)); then
    reused_list="${reused[*]}"
    printf '\nReused: %s\n' "${reused_list// /, }"
  fi
fi
