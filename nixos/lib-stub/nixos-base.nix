# The few NixOS options nixos/module.nix sets, declared with their NixOS names
# and types, so that a misspelt option (restartIfChange, ExecStart outside
# serviceConfig, ...) fails evaluation here as it would on a real system.
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  strs = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    networking.hostName = mkOption {
      type = types.str;
      default = "nixos";
    };
    nix.package = mkOption {
      type = types.package;
      default = pkgs.nix;
    };
    nix.settings = mkOption {
      type = types.attrsOf types.anything;
      default = { };
    };
    virtualisation.memorySize = mkOption {
      type = types.int;
      default = 1024;
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    environment.etc = mkOption {
      default = { };
      type = types.attrsOf (
        types.submodule {
          options = {
            source = mkOption { type = types.path; };
            mode = mkOption {
              type = types.str;
              default = "symlink";
            };
          };
        }
      );
    };
    users.groups = mkOption {
      default = { };
      type = types.attrsOf (
        types.submodule {
          options.gid = mkOption {
            type = types.nullOr types.int;
            default = null;
          };
        }
      );
    };
    systemd.services = mkOption {
      default = { };
      type = types.attrsOf (
        types.submodule {
          options = {
            enable = mkOption {
              type = types.bool;
              default = true;
            };
            description = mkOption {
              type = types.str;
              default = "";
            };
            documentation = strs;
            wantedBy = strs;
            requiredBy = strs;
            after = strs;
            before = strs;
            wants = strs;
            requires = strs;
            path = mkOption {
              type = types.listOf (types.either types.package types.str);
              default = [ ];
            };
            environment = mkOption {
              type = types.attrsOf types.str;
              default = { };
            };
            unitConfig = mkOption {
              type = types.attrsOf types.anything;
              default = { };
            };
            serviceConfig = mkOption {
              type = types.attrsOf types.anything;
              default = { };
            };
            restartIfChanged = mkOption {
              type = types.bool;
              default = true;
            };
            stopIfChanged = mkOption {
              type = types.bool;
              default = true;
            };
            restartTriggers = mkOption {
              type = types.listOf types.unspecified;
              default = [ ];
            };
            startLimitIntervalSec = mkOption {
              type = types.nullOr types.int;
              default = null;
            };
          };
        }
      );
    };
  };
}
