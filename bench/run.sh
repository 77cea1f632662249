#!/bin/sh
# make bench: every benchmark, figures side by side with the tool a user
# would otherwise use. Not part of make check: timings are not tests.
set -eu
dir=$(dirname "$0")
for b in "$dir"/*.sh; do
	case "$b" in */lib.sh | */run.sh) continue ;; esac
	echo "== $(basename "$b")"
	sh "$b"
done
