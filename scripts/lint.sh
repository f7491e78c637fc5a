#!/usr/bin/env bash
# Static checks: ESLint (layers, import cycles, file and function size), shellcheck on every shell
# script, packer fmt on the templates, and generated files (action.yml, the README tables) in step
# with their source.
set -euo pipefail

cd "$(dirname "$0")/.."

npx --no-install eslint --max-warnings 0 .

# Every tracked or new file whose first line is a sh or bash shebang, or the shell directive of a
# sourced library (scripts/local-stack/lib.sh), wherever it lives.
mapfile -t shell_scripts < <(git ls-files --cached --others --exclude-standard | while read -r f; do
  if [[ -f "$f" ]] && head -n1 "$f" | grep -qE '^(#!.*[/ ](ba)?sh|# shellcheck shell=(ba)?sh)$'; then echo "$f"; fi
done)
if ((${#shell_scripts[@]} > 0)); then
  shellcheck --severity=style "${shell_scripts[@]}"
fi

if [[ -d packer ]]; then
  # Packer 1.6.6 (Debian) has no -recursive: check each folder of templates.
  while IFS= read -r dir; do
    packer fmt -check -diff "$dir"
  done < <(find packer -name '*.pkr.hcl' -printf '%h\n' | sort -u)
fi

npx --no-install tsx scripts/gen-docs.ts --check
# The image copies the committed viewer bundle: it must be what its source builds to.
npx --no-install tsx scripts/build-viewer.ts --check
