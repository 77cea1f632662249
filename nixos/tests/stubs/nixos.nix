# The NixOS options that nixos/module.nix and the tests' configurations set,
# declared with the real lib's mkOption and the types NixOS gives them
# (nixos/lib/systemd-unit-options.nix, nixos/modules/system/etc/etc.nix, ...),
# so that a misspelt or mistyped option fails here as on a real system. Only
# system.build.etc is implemented, enough to build what /etc would hold.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;

  unitName = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";
  units = mkOption {
    type = types.listOf unitName;
    default = [ ];
  };

  # A value in a unit section: an atom, or a list for a directive that may be
  # repeated. Lists from several definitions are joined; atoms must agree.
  unitOption = types.mkOptionType {
    name = "systemd option";
    check = v: builtins.isList v || builtins.isBool v || builtins.isInt v || lib.isStringLike v;
    merge =
      loc: defs:
      if builtins.isList (lib.head defs).value then
        lib.concatMap (d: lib.toList d.value) defs
      else
        lib.mergeEqualOption loc defs;
  };
  # What NixOS checks in [Service]: the values of Type= and Restart=. The
  # check sees each definition as written, mkForce and the like included.
  content = v: if builtins.isAttrs v && v ? content then content v.content else v;
  oneOf =
    key: allowed: section:
    !(section ? ${key}) || builtins.elem (content section.${key}) allowed
    || throw "The value `${toString (content section.${key})}' of systemd's ${key}= is not one of ${lib.concatStringsSep ", " allowed}.";
  checkService =
    section:
    oneOf "Type" [ "exec" "simple" "forking" "oneshot" "dbus" "notify" "notify-reload" "idle" ] section
    && oneOf "Restart" [ "no" "on-success" "on-failure" "on-abnormal" "on-watchdog" "on-abort" "always" ] section;

  service = {
    options = {
      enable = mkOption {
        type = types.bool;
        default = true;
      };
      description = mkOption {
        type = types.singleLineStr;
        default = "";
      };
      documentation = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      wantedBy = units;
      requiredBy = units;
      after = units;
      before = units;
      wants = units;
      requires = units;
      path = mkOption {
        type = types.listOf (types.oneOf [ types.package types.str ]);
        default = [ ];
      };
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
      };
      unitConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      serviceConfig = mkOption {
        type = types.addCheck (types.attrsOf unitOption) checkService;
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
      # No default in NixOS either: the unit has the key only when it is set.
      startLimitIntervalSec = mkOption { type = types.int; };
    };
  };

  etcEntry =
    { name, config, ... }:
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
        };
        target = mkOption { type = types.str; };
        text = mkOption {
          type = types.nullOr types.lines;
          default = null;
        };
        source = mkOption { type = types.path; };
        mode = mkOption {
          type = types.str;
          default = "symlink";
        };
      };
      config = {
        target = lib.mkDefault name;
        source = lib.mkIf (config.text != null) (pkgs.writeText "etc-${baseNameOf name}" config.text);
      };
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
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
      default = "nixos";
    };
    nix.package = mkOption {
      type = types.package;
      default = pkgs.nix;
    };
    nix.settings = mkOption {
      default = { };
      type = types.submodule {
        freeformType = types.attrsOf (
          types.oneOf [
            types.bool
            types.int
            types.str
            (types.listOf types.str)
          ]
        );
        options.substituters = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
      };
    };
    virtualisation.memorySize = mkOption {
      type = types.ints.positive;
      default = 1024;
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    environment.etc = mkOption {
      type = types.attrsOf (types.submodule etcEntry);
      default = { };
    };
    # nixos/modules/config/users-groups.nix: a group by name, with an optional gid.
    users.groups = mkOption {
      default = { };
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options.name = mkOption {
              type = types.str;
              default = name;
            };
            options.gid = mkOption {
              type = types.nullOr types.int;
              default = null;
            };
            options.members = mkOption {
              type = types.listOf types.str;
              default = [ ];
            };
          }
        )
      );
    };
    systemd.services = mkOption {
      type = types.attrsOf (types.submodule service);
      default = { };
    };
    # nixos/modules/system/activation/activation-script.nix: a snippet is a
    # string or { deps; text; }.
    system.activationScripts = mkOption {
      default = { };
      type = types.attrsOf (
        types.either types.str (
          types.submodule {
            options = {
              deps = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
              text = mkOption { type = types.lines; };
              supportsDryActivation = mkOption {
                type = types.bool;
                default = false;
              };
            };
          }
        )
      );
    };
    system.build = mkOption {
      type = types.lazyAttrsOf types.unspecified;
      default = { };
    };
  };

  # The snippets NixOS itself has, with its deps (users-groups.nix,
  # activation-script.nix, etc.nix), so that ordering is tested against them.
  config.system.activationScripts = {
    specialfs = "# specialfs: mount /run and the like";
    users = {
      deps = [ ];
      text = "# users: create the users (update-users-groups.pl)";
    };
    groups = lib.stringAfter [ "users" ] "# groups";
    etc = lib.stringAfter [ "users" "groups" "specialfs" ] "# etc: link /etc";
  };

  # The activation script as NixOS orders it: lib.textClosureMap over the
  # snippets' deps, each under a headline.
  config.system.build.activate =
    let
      set = lib.mapAttrs (_: v: if builtins.isString v then lib.noDepEntry v else v) config.system.activationScripts;
      headed = lib.mapAttrs (n: v: v // { text = "#### Activation script snippet ${n}:\n${v.text}\n"; }) set;
    in
    lib.textClosureMap lib.id headed (builtins.attrNames headed);

  # /etc as NixOS builds it: one link per enabled entry. Building it builds
  # every source, the checked agent.conf among them.
  config.system.build.etc = pkgs.runCommand "etc" { } (
    lib.concatMapStrings (e: ''
      mkdir -p "$out/etc/$(dirname ${lib.escapeShellArg e.target})"
      ln -s ${lib.escapeShellArg "${e.source}"} "$out/etc/"${lib.escapeShellArg e.target}
    '') (lib.filter (e: e.enable) (lib.attrValues config.environment.etc))
  );
}
