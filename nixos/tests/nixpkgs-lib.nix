# Where the Nix tests find the real nixpkgs lib, first match wins:
#   1. ../shared/nixpkgs-lib/lib beside the source tree (CI and the developers'
#      machines: a pristine nix-community/nixpkgs.lib, see nixos/README.md);
#   2. $NIXPKGS_LIB, a lib directory;
#   3. <nixpkgs/lib> from NIX_PATH (local paths only: a channel URL would
#      mean a download in the middle of a test).
# Evaluates to { path; source; } or, when none is found, { path = null; reason; }.
let
  isLib = p: p != "" && builtins.substring 0 1 p == "/" && builtins.pathExists (p + "/default.nix");

  fromNixPath = map (
    e:
    if e.prefix == "nixpkgs/lib" then
      e.path
    else if e.prefix == "nixpkgs" then
      e.path + "/lib"
    else if e.prefix == "" then
      e.path + "/nixpkgs/lib"
    else
      ""
  ) builtins.nixPath;

  candidates = [
    {
      # ../../.. is the directory that holds the source tree.
      path = toString ../../.. + "/shared/nixpkgs-lib/lib";
      source = "../shared/nixpkgs-lib/lib";
    }
    {
      path = builtins.getEnv "NIXPKGS_LIB";
      source = "$NIXPKGS_LIB";
    }
  ]
  ++ map (p: {
    path = p;
    source = "<nixpkgs/lib> from NIX_PATH";
  }) fromNixPath;

  found = builtins.filter (c: isLib c.path) candidates;
in
if found != [ ] then
  builtins.head found
else
  {
    path = null;
    reason = "no nixpkgs lib: not in ../shared/nixpkgs-lib/lib beside the source, $NIXPKGS_LIB is ${
      if builtins.getEnv "NIXPKGS_LIB" == "" then "unset" else "not a lib directory"
    }, and NIX_PATH has no nixpkgs";
  }
