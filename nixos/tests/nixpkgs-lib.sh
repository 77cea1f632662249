# Sourced by the tests that evaluate nixos/: finds the real nixpkgs lib as
# nixos/tests/nixpkgs-lib.nix says.
#
# nixpkgs_lib_find NIX_PATH: prints the lib directory, or "!" and why there
# is none; prints nothing when the finder itself does not evaluate. NIX_PATH
# is the caller's own (tests/t/lib.sh clears it for the tests' nix).
nixpkgs_lib_find() {
	NIX_PATH=$1 nix-instantiate --eval --json -E "
		let f = import (/. + \"$CIM_SRC/nixos/tests/nixpkgs-lib.nix\");
		in if f.path != null then f.path else \"!\" + f.reason" | sed 's/^"//; s/"$//'
}
