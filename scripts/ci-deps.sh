#!/usr/bin/env bash
# The programs the tests run besides cargo: bash, curl and jq for the walk-through
# of docs/api.md (crates/server/tests/walkthrough.rs). Installed from the
# distribution's packages when missing; nothing is downloaded from elsewhere.
set -euo pipefail
missing=()
for tool in curl jq; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "installing ${missing[*]} from the distribution's packages"
    sudo_or_not=""
    [ "$(id -u)" -eq 0 ] || sudo_or_not="sudo"
    $sudo_or_not apt-get update -qq
    $sudo_or_not apt-get install -y -qq "${missing[@]}"
fi
