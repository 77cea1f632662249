# The few nix-darwin options nixos/darwin.nix sets, with nix-darwin's names and
# types (networking.hostName may be null there), so a misspelt one fails here.
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    networking.hostName = mkOption {
      type = types.nullOr types.str;
      default = null;
    };
    nix.package = mkOption {
      type = types.package;
      default = pkgs.nix;
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    environment.etc = mkOption {
      default = { };
      type = types.attrsOf (
        types.submodule {
          options.source = mkOption { type = types.path; };
        }
      );
    };
    system.activationScripts.postActivation.text = mkOption {
      type = types.lines;
      default = "";
    };
    launchd.daemons = mkOption {
      default = { };
      type = types.attrsOf (
        types.submodule {
          options = {
            path = mkOption {
              type = types.listOf (types.either types.package types.str);
              default = [ ];
            };
            environment = mkOption {
              type = types.attrsOf types.str;
              default = { };
            };
            serviceConfig = mkOption {
              type = types.attrsOf types.anything;
              default = { };
            };
          };
        }
      );
    };
  };
}
