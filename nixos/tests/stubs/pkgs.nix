# A stand-in for the part of nixpkgs' `pkgs` that the modules, package.nix and
# flake.nix use, on top of the real nixpkgs lib (the tests have lib, not all
# of nixpkgs):
#   - writeText and runCommand make real derivations, which nix-build builds
#     with /bin/sh and the host's tools (the tests' nix runs unsandboxed);
#   - formats.ini has nixpkgs' type for listsAsDuplicateKeys (an INI atom or
#     a list of them per key) and renders with lib.generators.toINI;
#   - callPackage is lib.callPackageWith; stdenv.mkDerivation keeps its
#     arguments for inspection instead of building;
#   - every other package is a name with a store-like path, never built.
{
  lib,
  system ? "x86_64-linux",
}:
let
  platform = lib.systems.elaborate system;

  # A package only referred to: an attribute set that passes for a derivation.
  fakeDrv =
    name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/${builtins.substring 0 32 (builtins.hashString "sha256" name)}-${name}";
    }
    // extra;

  fakes = [
    "git"
    "nix"
    "openssh"
    "coreutils"
    "pkg-config"
    "libgit2"
    "curl"
    "libsodium"
    "inih"
    "jansson"
    "systemd"
    "clang-tools"
    "cmocka"
    "nats-c"
    "age"
    "nats-server"
    "valgrind"
    "nixfmt-rfc-style"
  ];

  # runCommand: the script runs under `sh -eu` with the host's PATH after
  # the bin directories of nativeBuildInputs; passthru is merged into the result.
  runCommand =
    name: env: script:
    let
      inputs = env.nativeBuildInputs or [ ];
      drv = derivation (
        removeAttrs env [
          "passthru"
          "nativeBuildInputs"
        ]
        // {
          inherit name;
          # Built here, whatever system the configuration is for.
          system = builtins.currentSystem;
          builder = "/bin/sh";
          args = [
            "-euc"
            script
          ];
          PATH = lib.concatMapStrings (p: "${p}/bin:") inputs + "/usr/bin:/bin";
        }
      );
    in
    drv // env.passthru or { };

  atom = lib.types.nullOr (
    lib.types.oneOf [
      lib.types.bool
      lib.types.int
      lib.types.float
      lib.types.str
    ]
  );

  pkgs = {
    inherit lib system runCommand;

    # The real nixos/package.nix, through the mkDerivation below.
    cim-agent = pkgs.callPackage ../../package.nix { };

    callPackage = lib.callPackageWith pkgs;

    stdenv = {
      hostPlatform = platform;
      buildPlatform = platform;
      inherit (platform) isLinux isDarwin;
      cc.targetPrefix = "";
      mkDerivation =
        args:
        fakeDrv "${args.pname}-${args.version}" {
          inherit args;
          meta = args.meta or { };
        };
    };
    mkShell = args: fakeDrv "nix-shell" { inherit args; };
    testers.runNixOSTest = test: fakeDrv "vm-test-run-${test.name}" { inherit test; };

    writeText =
      name: text:
      runCommand name {
        inherit text;
        passAsFile = [ "text" ];
      } ''cp "$textPath" "$out"'';

    formats.ini =
      {
        listsAsDuplicateKeys ? false,
        ...
      }@args:
      {
        type = lib.types.attrsOf (
          lib.types.attrsOf (if listsAsDuplicateKeys then lib.types.either atom (lib.types.listOf atom) else atom)
        );
        generate = name: value: pkgs.writeText name (lib.generators.toINI (removeAttrs args [ "listToValue" ]) value);
      };
  }
  // lib.genAttrs fakes (name: fakeDrv name { });
in
pkgs
