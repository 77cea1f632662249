# cim-agent, built with the project's Makefile. callPackage-able:
#   pkgs.callPackage ./nixos/package.nix { }
{
  lib,
  stdenv,
  pkg-config,
  libgit2,
  curl,
  libsodium,
  inih,
  jansson,
  nats-c,
  systemd,
}:
stdenv.mkDerivation {
  pname = "cim-agent";
  version = "0.1.0";

  # The source tree without build/ (objects of a local `make` would be stale
  # for the sandbox) and without nixos/, whose changes do not touch the binary.
  src = lib.cleanSourceWith {
    src = lib.cleanSource ../.;
    filter =
      path: type:
      !(builtins.elem (baseNameOf path) [
        "build"
        "nixos"
        "flake.nix"
        "flake.lock"
      ]);
  };

  strictDeps = true;
  enableParallelBuilding = true;

  nativeBuildInputs = [ pkg-config ];
  # The Makefile asks pkg-config for libsystemd on Linux only (sd_notify).
  buildInputs = [
    libgit2
    curl
    libsodium
    inih
    jansson
    nats-c
  ] ++ lib.optional stdenv.hostPlatform.isLinux systemd;

  # DESTDIR stays empty: everything goes under $out, /etc included.
  makeFlags = [
    "PREFIX=${placeholder "out"}"
    "SYSCONFDIR=${placeholder "out"}/etc"
    "CC=${stdenv.cc.targetPrefix}cc"
  ];

  # The Makefile adds -D_FORTIFY_SOURCE=2 itself and builds with -Werror; the
  # compiler wrapper's own (=3) would redefine it and fail the build.
  hardeningDisable = [ "fortify" ];

  # `make test` needs git, ssh-keygen, age, a NATS server and nix itself with a
  # writable store, which the build sandbox does not have; the tests run in
  # CI (.ci/run) and `nix flake check` runs the NixOS VM test instead.
  doCheck = false;

  meta = {
    description = "GitOps sync agent for Nix hosts: deploys signed commits of a Git repository";
    mainProgram = "cim-agent";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
