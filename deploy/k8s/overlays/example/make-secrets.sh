#!/usr/bin/env bash
# Writes the files the example overlay's secretGenerator makes meshwatchd-secrets from:
#   secrets/webhook-url     the webhook receiver's URL (the argument, or $MESHWATCHD_WEBHOOK_URL)
#   secrets/webhook-secret  a random signing secret for the webhook's HMAC (64 hex characters)
#   secrets/ops-token       a random operator token for `meshwatchd ack` / `silence` (web.tokens)
# Usage: deploy/k8s/overlays/example/make-secrets.sh https://incidents.example.com/hooks/meshwatchd
# Existing secret and token files are kept (so applying again does not rotate them); --rotate
# writes new ones. The directory is git-ignored and only its owner may read it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir="$here/secrets"
rotate=false
url="${MESHWATCHD_WEBHOOK_URL:-}"
for argument in "$@"; do
  case "$argument" in
    --rotate) rotate=true ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "make-secrets: unknown option $argument" >&2; exit 64 ;;
    *) url="$argument" ;;
  esac
done
if [[ -z "$url" && -s "$dir/webhook-url" ]]; then
  url=$(cat "$dir/webhook-url")
fi
if [[ ! "$url" =~ ^https?://[^[:space:]]+$ ]]; then
  echo "make-secrets: give the webhook receiver's URL (http:// or https://) as the argument or in MESHWATCHD_WEBHOOK_URL" >&2
  exit 64
fi

umask 077
mkdir -p "$dir"
chmod 700 "$dir"

random() {
  if command -v openssl >/dev/null 2>&1; then
    openssl rand -hex 32
  else
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
    echo
  fi
}

printf '%s\n' "$url" > "$dir/webhook-url"
for name in webhook-secret ops-token; do
  if $rotate || [[ ! -s "$dir/$name" ]]; then
    random > "$dir/$name.new"
    mv "$dir/$name.new" "$dir/$name"
  fi
done
echo "make-secrets: wrote $dir/{webhook-url,webhook-secret,ops-token}; now: kubectl apply -k ${here#"$PWD/"}"
