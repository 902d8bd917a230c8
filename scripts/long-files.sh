#!/usr/bin/env bash
# Lists every file under crates/*/src longer than 500 lines that does not say
# why in its first five lines (a comment beginning `Long because`).
# Exit 1 when one is found. Usage: scripts/long-files.sh [REPO_ROOT]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
status=0
while IFS= read -r file; do
  lines=$(wc -l <"$file")
  if [ "$lines" -gt 500 ] && ! head -n 5 "$file" | grep -Eq '^\s*//[/!]?\s*Long because'; then
    echo "$file: $lines lines, and no 'Long because' in its first five lines"
    status=1
  fi
done < <(find crates/*/src -name '*.rs' | sort)
[ "$status" -eq 0 ] && echo "every file under crates/*/src is 500 lines or fewer, or says why"
exit "$status"
