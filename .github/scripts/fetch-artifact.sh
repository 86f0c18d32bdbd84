#!/usr/bin/env bash
# Restores what an earlier run of one workflow left as an artifact: the launch gate's hard-stop
# state (launch-gate-state-<environment>) and the nightly drills' baseline (nightly-baseline).
# It takes the newest unexpired artifact of that name whose run belongs to that workflow and is
# not this run (a re-run never reads its own state). The Actions cache is not used: it is scoped
# per ref (a release could not see the previous tag's state), collides on re-runs and can be
# written by other workflows. Any API failure fails the step: a gate without its memory could
# miss the runbook's "more than one consecutive strict run" and release a rollout it should pause.
#
# usage: fetch-artifact.sh WORKFLOW_FILE ARTIFACT_NAME DEST_DIR   (GH_TOKEN with actions: read)
# Exits 0 with DEST_DIR empty when no earlier run saved one.
set -euo pipefail
workflow=$1 name=$2 dest=$3
mkdir -p "$dest"
runs=$(gh api "repos/${GITHUB_REPOSITORY}/actions/artifacts?name=${name}&per_page=100" \
  --jq '.artifacts | sort_by(.created_at) | reverse | .[] | select(.expired | not) | .workflow_run.id')
for run in $runs; do
  [ "$run" = "$GITHUB_RUN_ID" ] && continue
  path=$(gh api "repos/${GITHUB_REPOSITORY}/actions/runs/${run}" --jq .path)
  [ "$path" = ".github/workflows/${workflow}" ] || continue
  gh run download "$run" --repo "$GITHUB_REPOSITORY" --name "$name" --dir "$dest"
  echo "${name} restored from run ${run}"
  exit 0
done
echo "no earlier ${name} from ${workflow}"
