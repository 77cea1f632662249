#!/bin/sh
test_description='make demo checks every outcome it shows'
. "$(dirname "$0")/lib.sh"

test_expect_success 'the demo runs every step as expected and says so last' '
	TMPDIR="$TRASH" "$CIM_SRC/tests/demo.sh" >out 2>&1 &&
	tail -n 1 out >last &&
	echo "demo: 5 of 5 steps as expected" >expect &&
	diff expect last &&
	test "$(grep -c "as expected:" out)" -ge 13
'

test_expect_success 'a demo whose rollback cannot happen fails, naming the step' '
	test_expect_code 1 env DEMO_BREAK=health TMPDIR="$TRASH" "$CIM_SRC/tests/demo.sh" >out 2>&1 &&
	test_grep "^demo: step 4 (A good signature on a bad configuration: it breaks the health check) went wrong: expected the commit rolled back" out &&
	test_grep_not "steps as expected" out
'

test_done
