# Sourced by the demos (tests/demo.sh, tests/demo-fleet.sh): numbered steps,
# each of whose outcomes is asserted. DEMO_NAME names the demo in messages and
# DEMO its directory.
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
STEPS=0
STEP=""
step() { STEPS=$((STEPS + 1)) STEP="$*"; say "$STEPS. $*"; }
# expect WHAT TEST...: the current step's outcome; anything else ends the demo.
expect() {
	what=$1
	shift
	if "$@"; then
		printf '   \033[32mas expected:\033[0m %s\n' "$what"
	else
		printf '\n%s: step %d (%s) went wrong: expected %s\n' "$DEMO_NAME" "$STEPS" "$STEP" \
			"$what" >&2
		printf '%s: files are in %s\n' "$DEMO_NAME" "$DEMO" >&2
		exit 1
	fi
}
# The last line: every step went as expected.
steps_done() { echo "$DEMO_NAME: $STEPS of $STEPS steps as expected"; }
