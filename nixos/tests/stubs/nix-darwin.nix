# The nix-darwin options that nixos/darwin.nix sets, declared with the real
# lib's mkOption and nix-darwin's types (modules/launchd/default.nix and
# launchd.nix, ...): networking.hostName may be null there, a daemon's
# serviceConfig is a submodule of plist keys, and its path becomes a PATH
# string. A misspelt key fails here as it would on a Mac.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  nullOr =
    type:
    mkOption {
      type = types.nullOr type;
      default = null;
    };

  plist = {
    options = {
      Label = mkOption { type = types.str; };
      Program = nullOr types.path;
      ProgramArguments = nullOr (types.listOf types.str);
      RunAtLoad = nullOr types.bool;
      KeepAlive = nullOr (
        types.either types.bool (
          types.submodule {
            options = {
              SuccessfulExit = nullOr types.bool;
              NetworkState = nullOr types.bool;
              Crashed = nullOr types.bool;
            };
          }
        )
      );
      ThrottleInterval = nullOr types.int;
      ExitTimeOut = nullOr types.int;
      StandardOutPath = nullOr types.path;
      StandardErrorPath = nullOr types.path;
      EnvironmentVariables = nullOr (types.attrsOf types.str);
      UserName = nullOr types.str;
    };
  };

  daemon =
    { name, ... }:
    {
      options = {
        path = mkOption {
          type = types.listOf (types.either types.path types.str);
          default = [ ];
          apply = ps: lib.concatMapStringsSep ":" (p: if lib.isDerivation p then "${p}/bin" else p) ps;
        };
        environment = mkOption {
          type = types.attrsOf (types.either types.str (types.listOf types.str));
          default = { };
        };
        serviceConfig = mkOption {
          type = types.submodule plist;
          default = { };
        };
      };
      config.serviceConfig.Label = lib.mkDefault "org.nixos.${name}";
    };
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
          options = {
            enable = mkOption {
              type = types.bool;
              default = true;
            };
            source = mkOption { type = types.path; };
          };
        }
      );
    };
    system.activationScripts = mkOption {
      default = { };
      type = types.attrsOf (
        types.submodule {
          options.text = mkOption {
            type = types.lines;
            default = "";
          };
        }
      );
    };
    system.build = mkOption {
      type = types.lazyAttrsOf types.unspecified;
      default = { };
    };
    launchd.daemons = mkOption {
      type = types.attrsOf (types.submodule daemon);
      default = { };
    };
  };

  # nix-darwin's activate script (modules/system/activation-scripts.nix): a
  # fixed list of scripts in this order, users after groups, launchd (which
  # loads the daemons) after both, postActivation last. Scripts of other
  # names are not run.
  config.system.build.activate = lib.concatMapStrings (n: "#### ${n}\n${config.system.activationScripts.${n}.text or ""}\n") [
    "preActivation"
    "extraActivation"
    "groups"
    "users"
    "applications"
    "etc"
    "launchd"
    "postActivation"
  ];
  config.system.activationScripts.groups.text = "# groups: create the groups (dscl)";
  config.system.activationScripts.users.text = "# users: create the users (dscl)";
  config.system.activationScripts.launchd.text = "# launchd: load the daemons";
}
