#!/bin/sh
# Creates deploy/compose/secrets/ for compose.yaml: random page and key
# secrets, a random GitHub webhook secret, and the Redis store URL. It never
# overwrites a file that exists (VITRINE_KEY_SECRET must never change once
# mirrors exist). The GitHub token is yours to write; see the end.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
chmod 700 secrets

random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

put() { # name, value
	if [ -e "secrets/$1" ]; then
		echo "secrets/$1 exists: kept"
		return
	fi
	printf '%s\n' "$2" >"secrets/$1"
	echo "secrets/$1 written"
}

put page_secret "$(random)"
put key_secret "$(random)"
put github_webhook_secret "$(random)"
put store_url "redis://redis:6379/0"

# The container runs as uid 65532 and reads the files through bind mounts:
# they must be readable by it. The 0700 directory keeps other host users out.
chmod 644 secrets/*

if [ ! -s secrets/github_token ]; then
	cat <<'MSG'

Still to do:
  - write a read-only GitHub token to secrets/github_token (chmod 644 it);
  - paste secrets/github_webhook_secret into the repository's webhook
    settings (payload URL https://<your host>/webhooks/github);
  - keep a copy of secrets/key_secret with your backups: a rebuilt store
    finds its mirrors again only with the same key secret.
MSG
fi
