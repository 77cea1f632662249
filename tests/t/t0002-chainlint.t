#!/bin/sh
test_description='the chain-lint step refuses test bodies whose && chain is broken'
. "$(dirname "$0")/lib.sh"

# lints FILE: the body in FILE, as a test script holding one test.
lint_body() {
	{ printf "test_expect_success 'sample' '\n" && cat "$1" && printf "'\n"; } >sample.t &&
	python3 "$CIM_SRC/tests/chainlint.py" sample.t 2>lint.err
}

test_expect_success 'an intact chain passes' '
	cat >body <<-\EOF &&
	cim -c agent.conf once >out &&
	if test -e x; then echo y && echo z; else echo w; fi &&
	for i in 1 2; do echo $i || return 1; done &&
	case "$a" in
	a|b) echo ab ;;
	*) echo other && false ;;
	esac &&
	{ sleep 1 & } &&
	pid=$! &&
	cat >f <<-EOT &&
	not a command; ever
	EOT
	test -s f || { echo "f is empty"; exit 1; }
	EOF
	lint_body body
'

test_expect_success 'a newline that drops a result is refused, naming the line' '
	printf "echo one &&\ntest_must_fail cim once\ncim once >out\n" >body &&
	test_must_fail lint_body body &&
	test_grep "sample.t:3: broken && chain" lint.err
'

test_expect_success 'a semicolon that drops a result is refused' '
	printf "test_must_fail cim once;\ntest -e out\n" >body &&
	test_must_fail lint_body body &&
	test_grep "sample.t:2: broken && chain" lint.err
'

test_expect_success 'a break inside a loop or a group is refused' '
	echo "for f in a b; do test -e f; echo f; done" >body &&
	test_must_fail lint_body body &&
	test_grep "sample.t:2: broken && chain" lint.err &&
	echo "{ false; true; } >out" >body &&
	test_must_fail lint_body body
'

test_expect_success 'every test file of the suite passes' '
	python3 "$CIM_SRC/tests/chainlint.py" "$CIM_SRC"/tests/t/t*.t
'

test_done
