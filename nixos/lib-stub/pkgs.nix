# A stand-in for the parts of nixpkgs' `pkgs` that nixos/module.nix and
# nixos/darwin.nix use: fake packages (attribute sets with a store-like
# outPath), writeText, runCommand, and formats.ini rendering INI text the way
# lib.generators.toINI does. Nothing is built; `.text` holds a file's content.
{
  lib,
  system ? "x86_64-linux",
}:
let
  inherit (builtins) concatStringsSep hashString isList substring;

  fakeDrv = name: extra:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/${substring 0 32 (hashString "sha256" (name + builtins.toJSON (extra.text or "")))}-${name}";
    }
    // extra;

  # Packages only referred to: a fake derivation each.
  fakes = [
    "git" "nix" "openssh" "coreutils" "pkg-config" "libgit2" "curl" "libsodium" "inih" "jansson"
    "systemd" "clang-tools" "cmocka" "nats-c" "age" "nats-server" "valgrind" "nixfmt-rfc-style"
  ];

  isDarwin = lib.hasPrefix "x86_64-darwin" system || lib.hasPrefix "aarch64-darwin" system;

  # lib.generators.toINI: "[section]" then one line per key (sorted), lists as
  # repeated keys when listsAsDuplicateKeys, sections separated by a blank line.
  toINI =
    {
      mkKeyValue ? (k: v: "${k}=${toString v}"),
      listsAsDuplicateKeys ? false,
      mkSectionName ? (n: n),
    }:
    sections:
    let
      lines =
        k: v:
        if listsAsDuplicateKeys && isList v then
          map (x: mkKeyValue k x + "\n") v
        else
          [ (mkKeyValue k v + "\n") ];
      section = name: values: "[${mkSectionName name}]\n" + concatStringsSep "" (builtins.concatLists (lib.mapAttrsToList lines values));
    in
    concatStringsSep "\n" (lib.mapAttrsToList section sections);
in
let
  pkgs = {
    inherit system;

    # The real nixos/package.nix, through the fake mkDerivation below.
    cim-agent = pkgs.callPackage ../package.nix { };

    # callPackage as in nixpkgs: the function's arguments taken from pkgs.
    callPackage =
      fn: overrides:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) (pkgs // { inherit lib; }) // overrides);

    # A derivation that is not built: its arguments are kept for inspection.
    stdenv = {
      isLinux = !isDarwin;
      inherit isDarwin;
      hostPlatform = {
        inherit system isDarwin;
        isLinux = !isDarwin;
      };
      cc.targetPrefix = "";
      mkDerivation = args: fakeDrv "${args.pname}-${args.version}" { inherit args; meta = args.meta or { }; };
    };
    mkShell = args: fakeDrv "nix-shell" { inherit args; };
    testers.runNixOSTest = test: fakeDrv "vm-test-run-${test.name}" { inherit test; };

    writeText = name: text: fakeDrv name { inherit text; };
    writeShellScript = name: text: fakeDrv name { text = "#!/bin/sh\n" + text; };
    runCommand = name: env: script: fakeDrv name { text = script; };

    formats.ini =
      {
        listsAsDuplicateKeys ? false,
        ...
      }@args:
      let
        atom = lib.types.nullOr (lib.types.oneOf [ lib.types.bool lib.types.int lib.types.str ]);
        value = if listsAsDuplicateKeys then lib.types.either atom (lib.types.listOf atom) else atom;
      in
      {
        type = lib.types.attrsOf (lib.types.attrsOf value);
        generate = name: v: pkgs.writeText name (toINI (removeAttrs args [ "listToValue" ]) v);
      };
  }
  // builtins.listToAttrs (
    map (name: {
      inherit name;
      value = fakeDrv name { };
    }) fakes
  );
in
pkgs
