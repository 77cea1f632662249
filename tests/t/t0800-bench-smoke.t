#!/bin/sh
test_description='make bench BENCH_QUICK=1: every benchmark runs and prints one table'
. "$(dirname "$0")/lib.sh"

# The benchmarks count instructions with callgrind, which cannot run an
# AddressSanitizer build, and which make bench installs (bench/install-deps).
if grep -q __asan_init "$CIM_AGENT"; then
	test_skip 'the quick run of every benchmark' 'callgrind cannot run a SANITIZE=1 build'
	test_done
fi
if ! command -v valgrind >/dev/null 2>&1 || ! command -v strace >/dev/null 2>&1; then
	test_skip 'the quick run of every benchmark' 'valgrind or strace missing: run bench/install-deps'
	test_done
fi

# The benchmarks' scratch directories go under the trash directory, so that the
# leftover check at the end of the script sees anything they left running.
test_expect_success 'the quick run of every benchmark prints one table with every row' '
	TMPDIR="$TRASH" BENCH_QUICK=1 BENCH_OUT="$TRASH/out" sh "$CIM_SRC/bench/run.sh" >table 2>log &&
	test_grep "^cim-agent benchmarks, 20[0-9-]* [0-9:]* UTC, [0-9]* cores (.*), [0-9]* GiB, Linux " table &&
	test_grep "BENCH_QUICK=1" table &&
	test_grep "^| what | cim-agent | peer | peer.s figure | ratio | target (issue 16) | holds |$" table &&
	test_grep "^Peers: git .*, age .*, libgit2 " table &&
	for what in "verify one commit: wall" \
		"no-change poll, git://, 1 ref: bytes down" "no-change poll, git://, 1000 refs: client CPU" \
		"no-change poll, git://, 1000 refs: instructions" "no-change poll, smart http, 1000 refs: bytes down" \
		"parsing the advertisement of 1000 refs" \
		"one deployment: the agent.s own share of the cycle" "one deployment: cycle_ms - children_ms" \
		"decrypt 1 KiB binary: wall" "decrypt 16 MiB armored: peak RSS" "decrypt 16 MiB binary against raw libsodium" \
		"daemon, local repository: CPU per no-change poll" "daemon, local repository: PSS" \
		"daemon, local repository: growth of anonymous memory" "daemon, local repository: fsync" \
		"daemon, local repository: renames" "daemon, local repository: bytes written" \
		"daemon, local repository: instructions per no-change poll" "daemon, git:// 1000 refs: PSS" \
		"daemon, smart http 1000 refs: CPU per no-change poll" \
		"fleet, 12 agents, 3 waves: push to the last host deployed" \
		"fleet, 12 agents: git fetches per host per push" "fleet, 12 agents: nats-server CPU per push" \
		"fleet, 12 agents: each agent.s PSS"
	do
		test_grep "^| $what" table || return 1
	done &&
	grep "^| " table | sed 1,2d >rows &&
	test "$(wc -l <rows)" -ge 30 &&
	awk -F"|" "NF != 9 || \$3 == \" - \" || \$8 !~ /^ (yes|NO|-|n\\/a) \$/ { print; bad = 1 } END { exit bad }" rows &&
	test_grep "bytes down | [0-9][0-9]* B" table &&
	test -s out/raw.jsonl && test -s out/rows.jsonl && test -s out/table.md &&
	test "$(grep -c "\"runs\"" out/raw.jsonl)" -ge 10
'

test_expect_success 'a benchmark that fails makes the run fail, and says which' '
	mkdir fakebin &&
	printf "#!/bin/sh\nexit 3\n" >fakebin/cim-agent && chmod +x fakebin/cim-agent &&
	test_must_fail env TMPDIR="$TRASH" BENCH_QUICK=1 BENCH_ONLY=verify BENCH_OUT="$TRASH/out2" \
		CIM_AGENT="$TRASH/fakebin/cim-agent" sh "$CIM_SRC/bench/run.sh" >table2 2>log2 &&
	test_grep "bench: FAILED: verify" log2 &&
	test_grep "exited 3" log2
'

test_done
