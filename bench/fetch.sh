#!/bin/sh
# A poll that finds nothing new: `cim-agent fetch` against `git fetch --no-tags`
# of the same branch into a mirror of the same shape, over git:// (git daemon)
# and smart HTTP (git http-backend), from a repository with 1 ref and with
# 10,000 refs. A counting proxy between client and server (bench/proxy.py)
# gives the bytes each poll downloads; wait4 gives the client's CPU (user+sys,
# the process and every child it waited for). The same polls under callgrind
# give instruction counts, which a busy machine does not blur.
. "$(dirname "$0")/lib.sh"
cd "$BENCH"
MANY=$(quick 10000 1000)
CG_PAIRS=$(quick 2 1) # instruction counts vary by well under 1 %
signing_key
mkdir srv
git init -q -b main work
echo one >work/file && git -C work add file && signed_commit work "one"
git clone -q --bare work srv/refs-1.git
git clone -q --bare work srv/refs-many.git
tip=$(git -C work rev-parse HEAD)
# MANY refs in all: main and MANY-1 other branches, packed as a server keeps them.
python3 -c "import sys
for i in range(1, int(sys.argv[1])): print('create refs/heads/topic/branch-%05d %s' % (i, sys.argv[2]))" \
	"$MANY" "$tip" | git -C srv/refs-many.git update-ref --stdin
git -C srv/refs-1.git pack-refs --all
git -C srv/refs-many.git pack-refs --all

gitd_port=$(free_port)
bench_bg git daemon --export-all --reuseaddr --listen=127.0.0.1 --port="$gitd_port" \
	--base-path="$BENCH/srv" "$BENCH/srv" 2>gitd.log
bench_bg python3 "$BENCH_SRC/bench/git-http.py" "$BENCH/srv" http.port 2>http.log
wait_file http.port
http_port=$(cat http.port)
bench_bg python3 "$BENCH_SRC/bench/proxy.py" "$gitd_port" proxy-git.port 2>proxy-git.log
bench_bg python3 "$BENCH_SRC/bench/proxy.py" "$http_port" proxy-http.port 2>proxy-http.log
wait_file proxy-git.port
wait_file proxy-http.port
# git daemon listens once it answers.
n=0
until git ls-remote "git://127.0.0.1:$gitd_port/refs-1.git" >/dev/null 2>&1; do
	n=$((n + 1))
	[ $n -lt 100 ] || { echo "bench: git daemon did not start" >&2; cat gitd.log >&2; exit 1; }
	sleep 0.1
done

# poll PROTO URL_BASE REPO CTL_PORT LABEL
poll() {
	name="fetch-$(echo "$1" | tr -dc a-z)-$3"
	url="$2/refs-$3.git"
	cat >"$name.conf" <<CONF
[agent]
hostname = bench
state_dir = $BENCH/$name-state
[repo]
url = $url
allowed_signers = $BENCH/allowed_signers
CONF
	"$CIM_AGENT" -c "$name.conf" fetch >/dev/null
	git init -q --bare "$name.git"
	git -C "$name.git" remote add origin "$url"
	git -C "$name.git" config remote.origin.fetch "+refs/heads/main:refs/remotes/origin/main"
	git -C "$name.git" config maintenance.auto false
	git -C "$name.git" fetch -q --no-tags origin
	pairs "$BENCH_OUT/$name.json" --proxy "$4" \
		--a "$CIM_AGENT -c $BENCH/$name.conf fetch" \
		--b "git -C $BENCH/$name.git fetch -q --no-tags origin"
	row --what "no-change poll, $1, $5: bytes down" --summary "$BENCH_OUT/$name.json" \
		--metric down_bytes --unit B --peer-name "git fetch --no-tags" \
		--target "<= 2 KB down" --holds "a_max <= 2000"
	row --what "no-change poll, $1, $5: client CPU, process included" \
		--summary "$BENCH_OUT/$name.json" --metric cpu_ms --peer-name "git fetch --no-tags" \
		--target "CPU <= git's" --holds "r_med <= 1.0"
	# A quick run counts instructions over git:// only (callgrind is slow).
	[ "$BENCH_QUICK" = 1 ] && [ "$1" != "git://" ] && return
	pairs "$BENCH_OUT/$name-cg.json" --callgrind --warmup 0 --pairs "$CG_PAIRS" \
		--a "$CIM_AGENT -c $BENCH/$name.conf fetch" \
		--b "git -C $BENCH/$name.git fetch -q --no-tags origin"
	row --what "no-change poll, $1, $5: instructions (callgrind, with children)" \
		--summary "$BENCH_OUT/$name-cg.json" --metric ir --unit "MIr" --scale 0.000001 \
		--peer-name "git fetch --no-tags" --target "CPU <= git's" --holds "r_med <= 1.0"
}
git_base="git://127.0.0.1:$(cut -d' ' -f1 proxy-git.port)"
http_base="http://127.0.0.1:$(cut -d' ' -f1 proxy-http.port)"
git_ctl=$(cut -d' ' -f2 proxy-git.port)
http_ctl=$(cut -d' ' -f2 proxy-http.port)
poll "git://" "$git_base" 1 "$git_ctl" "1 ref"
poll "git://" "$git_base" many "$git_ctl" "$MANY refs"
poll "smart http" "$http_base" 1 "$http_ctl" "1 ref"
poll "smart http" "$http_base" many "$http_ctl" "$MANY refs"
# What parsing the big advertisement costs, the path the v2 pre-check is to make rare.
ir() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"]["ir"]["a"][1])' "$1"; }
extra=$(python3 -c 'import sys; print((float(sys.argv[2]) - float(sys.argv[1])) / 1e6)' \
	"$(ir "$BENCH_OUT/fetch-git-1-cg.json")" "$(ir "$BENCH_OUT/fetch-git-many-cg.json")")
row --what "parsing the advertisement of $MANY refs: instructions above 1 ref (git://)" \
	--ours "$extra" --unit MIr --target "reported (the rare path once v2 is asked first)"
bench_done
