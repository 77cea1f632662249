# Sourced by the tests, the demo and the benchmarks: every nix they run reads a
# configuration that this file writes, and nothing of the machine's own.
# A fresh Debian nix-bin has no /etc/nix/nix.conf, and nix's built-in default
# for root is build-users-group = nixbld, a group the package does not create;
# a machine set up by hand may have a nix.conf or a ~/.config/nix of its own.
# With NIX_CONF_DIR and NIX_USER_CONF_FILES pointing here, neither is read.
#
# nix_env_setup DIR: writes DIR/nix.conf and exports the variables.
nix_env_setup() {
	mkdir -p "$1" &&
	cat >"$1/nix.conf" <<'CONF'
build-users-group =
sandbox = false
substituters =
experimental-features = nix-command flakes
warn-dirty = false
CONF
	export NIX_CONF_DIR="$1" NIX_USER_CONF_FILES="$1/nix.conf"
	export XDG_CONFIG_HOME="$1/xdg" XDG_CONFIG_DIRS="$1/xdg"
	unset NIX_CONFIG NIX_PATH NIX_REMOTE
}
