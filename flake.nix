{
  description = "cim-agent: a GitOps sync agent for Nix hosts";

  # The only input. flake.lock pins it by revision, without a narHash (see
  # "The flake.lock" in nixos/README.md for what is and is not verified).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      overlays.default = final: prev: {
        cim-agent = final.callPackage ./nixos/package.nix { };
      };

      packages = forAllSystems (pkgs: {
        cim-agent = pkgs.callPackage ./nixos/package.nix { };
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.cim-agent;
      });

      # The modules build the package from this source with the host's own
      # nixpkgs unless services.cim-agent.package (or pkgs.cim-agent, through
      # overlays.default) says otherwise.
      nixosModules.default = ./nixos/module.nix;
      nixosModules.cim-agent = ./nixos/module.nix;
      darwinModules.default = ./nixos/darwin.nix;
      darwinModules.cim-agent = ./nixos/darwin.nix;

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.cim-agent ];
          packages =
            with pkgs;
            [
              clang-tools
              pkg-config
              libgit2
              curl
              libsodium
              inih
              jansson
              cmocka
              nats-c
              git
              openssh
              age
              nats-server
            ]
            ++ lib.optionals stdenv.hostPlatform.isLinux [
              systemd
              valgrind
            ];
        };
      });

      checks = forAllSystems (
        pkgs:
        {
          cim-agent = self.packages.${pkgs.stdenv.hostPlatform.system}.cim-agent;
        }
        // lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux {
          vm = import ./nixos/tests/vm.nix { inherit pkgs; };
        }
      );

      formatter = forAllSystems (pkgs: pkgs.nixfmt-rfc-style);
    };
}
