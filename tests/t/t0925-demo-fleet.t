#!/bin/sh
test_description='make demo-fleet checks every outcome it shows'
. "$(dirname "$0")/lib.sh"

test_expect_success 'the fleet demo runs every step as expected and says so last' '
	TMPDIR="$TRASH" "$CIM_SRC/tests/demo-fleet.sh" >out 2>&1 &&
	tail -n 1 out >last &&
	echo "demo-fleet: 3 of 3 steps as expected" >expect &&
	diff expect last &&
	test "$(grep -c "as expected:" out)" -ge 7 &&
	test "$(grep -c "deployed [0-9a-f]\{12\}$" out)" -ge 12
'

test_expect_success 'a fleet demo whose agents work alone fails, naming the step' '
	test_expect_code 1 env DEMO_BREAK=fleet TMPDIR="$TRASH" "$CIM_SRC/tests/demo-fleet.sh" >out 2>&1 &&
	test_grep "^demo-fleet: step 1 (Version 1 rolls out wave by wave) went wrong: expected each wave waited until the wave before had soaked" out &&
	test_grep "did not wait for canary to soak 3 s" out &&
	test_grep_not "steps as expected" out
'

test_done
