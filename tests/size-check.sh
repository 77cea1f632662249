#!/bin/sh
# size-check.sh [-a NAME]... FILE...: prints each function over 80 lines (by
# ctags) and each file over 600 lines, and fails on one that no -a allows
# (NAME: a file, or file:function).
allow=" "
while [ "$1" = -a ]; do allow="$allow$2 " && shift 2; done
found=$(
	ctags --fields=+ne --kinds-C=f -o - "$@" | awk -F'\t' '{
		for (i = 4; i <= NF; i++) { if ($i ~ /^line:/) l = substr($i, 6); if ($i ~ /^end:/) e = substr($i, 5) }
		if (e - l + 1 > 80) print $2 ":" $1, e - l + 1 }'
	wc -l "$@" | awk '$2 != "total" && $1 > 600 { print $2, $1 }'
)
status=0
while read -r name lines; do
	[ -n "$name" ] || continue
	case "$allow" in
	*" $name "*) echo "size-check: $name: $lines lines (allowed for now: SIZE_ALLOW in the Makefile)" ;;
	*) echo "size-check: $name: $lines lines, over the limit (80 a function, 600 a file)" && status=1 ;;
	esac
done <<EOF2
$found
EOF2
exit $status
