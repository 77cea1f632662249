# services.cim-agent.secrets.<name>: secrets declared in the system
# configuration, next to the service that reads them, as with agenix's
# age.secrets. Shared by NixOS (module.nix) and nix-darwin (darwin.nix), which
# each run `activationCommand` (below) at their point of activation.
#
# The module renders the declarations into a manifest (the format of
# secrets/manifest.h in its rendered variant, README "Secrets"): the .age files
# are copied to the store and named by store path, so the manifest and the
# ciphertexts are part of the system closure, and activating a system installs
# exactly that system's secrets, whoever activates it.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types literalExpression;

  cfg = config.services.cim-agent;
  secretsDir = if cfg.settings.secrets.dir != null then cfg.settings.secrets.dir else "/run/cim-agent/secrets";
  absPath = types.strMatching "/.*";
  # As the agent's manifest parser takes them (secrets/manifest.c).
  account = types.strMatching "[A-Za-z0-9._][A-Za-z0-9._-]{0,31}";
  nameOk = n: builtins.match "[A-Za-z0-9._-]{1,128}" n != null && n != "." && n != "..";

  secretType = types.submodule (
    { name, ... }:
    {
      options = {
        file = mkOption {
          type = types.path;
          example = literalExpression "./secrets/db.age";
          description = ''
            The `.age` file, in the repository (a path such as
            `./secrets/db.age`), encrypted to this host's key. It is copied to
            the Nix store, encrypted, as agenix does.
          '';
        };
        owner = mkOption {
          type = account;
          default = "root";
          description = "The user that owns the decrypted file.";
        };
        group = mkOption {
          type = types.nullOr account;
          default = null;
          description = "The group of the decrypted file; null: the owner's primary group.";
        };
        mode = mkOption {
          type = types.strMatching "0?[0-7]{3}";
          default = "0400";
          description = "The mode of the decrypted file, in octal (at most `0777`).";
        };
        path = mkOption {
          type = types.str;
          readOnly = true;
          default = "${secretsDir}/${name}";
          defaultText = literalExpression ''"''${config.services.cim-agent.settings.secrets.dir}/<name>"'';
          description = ''
            Where the decrypted secret is, for other options to use
            (`config.services.cim-agent.secrets.<name>.path`): a file in the
            current generation of the secrets directory.
          '';
        };
        symlink = mkOption {
          type = types.nullOr absPath;
          default = null;
          example = "/etc/ssl/private/web.key";
          description = ''
            An extra path, outside the secrets directory, made a symlink to
            `path` when the secrets are installed, for programs that look for
            the secret in a fixed place.
          '';
        };
      };
    }
  );

  secrets = lib.mapAttrsToList (name: s: s // { inherit name; }) cfg.secrets;

  inRepository =
    f:
    let
      p = toString f;
    in
    if cfg.repositoryRoot != null then
      lib.hasPrefix "${toString cfg.repositoryRoot}/" p
    else
      lib.hasPrefix "${builtins.storeDir}/" p;
  # A path value is copied to the store under a name of its own; a string
  # (already a store path, such as "${inputs.secrets}/db.age") is kept.
  storeFile =
    s:
    if builtins.isPath s.file then
      "${builtins.path {
        path = s.file;
        name = "cim-agent-secret-${s.name}.age";
      }}"
    else
      s.file;

  # Every place a secret occupies, to find two on one path.
  places = lib.concatMap (s: [ { inherit (s) name path; } ] ++ lib.optional (s.symlink != null) { inherit (s) name; path = s.symlink; }) secrets;
  clashes = lib.filter (p: builtins.length p.names > 1) (
    lib.mapAttrsToList (path: ps: { inherit path; names = lib.unique (map (x: x.name) ps); }) (
      builtins.groupBy (p: p.path) places
    )
  );

  manifest = pkgs.writeText "cim-agent-secrets.conf" (
    ''
      # The secrets of this system, rendered by services.cim-agent.secrets
      # for `cim-agent secrets activate` (README "Secrets": the rendered manifest).
    ''
    + lib.concatMapStrings (s: ''

      [${s.name}]
      file = ${storeFile s}
      owner = ${s.owner}
    '' + lib.optionalString (s.group != null) "group = ${s.group}\n" + ''
      mode = ${s.mode}
    '' + lib.optionalString (s.symlink != null) "symlink = ${s.symlink}\n") secrets
  );
in
{
  options.services.cim-agent = {
    secrets = mkOption {
      type = types.attrsOf secretType;
      default = { };
      example = literalExpression ''
        {
          db = { file = ./secrets/db.age; owner = "postgres"; mode = "0440"; };
          tls = { file = ./secrets/web.key.age; owner = "nginx"; symlink = "/etc/ssl/private/web.key"; };
        }
      '';
      description = ''
        Secrets to install on activation, each decrypted with the host's
        identity (`settings.secrets.identity`) into a new generation of
        `settings.secrets.dir`, after users and groups are created and before
        services start. Activating an older system (a rollback) brings back
        that system's secrets. The agent also decrypts them, in memory, before
        it switches, so a secret this host cannot decrypt fails the deployment
        before anything changes.
      '';
    };

    repositoryRoot = mkOption {
      type = types.nullOr types.path;
      default = null;
      example = literalExpression "./.";
      description = ''
        The repository's root, when the configuration is not evaluated from a
        flake: each secret's `file` must be inside it. null: `file` must be in
        the Nix store, where a flake's files are (the agent always builds a
        flake).
      '';
    };

    secretsManifest = mkOption {
      type = types.nullOr types.package;
      readOnly = true;
      internal = true;
      default = if cfg.secrets == { } then null else manifest;
      description = "The rendered manifest of `secrets`, null when there is none.";
    };

    activationCommand = mkOption {
      type = types.str;
      readOnly = true;
      internal = true;
      default = lib.optionalString (cfg.secrets != { }) ''
        ${lib.getExe' cfg.package "cim-agent"} -c ${cfg.configFile} secrets activate ${manifest}
      '';
      description = "The command that installs `secrets` (empty when there are none).";
    };
  };

  config = lib.mkIf (cfg.enable && cfg.secrets != { }) {
    # The manifest of the running system, where the agent looks for it in a
    # new system before switching to it (<system>/etc/cim-agent/secrets.conf).
    environment.etc."cim-agent/secrets.conf".source = manifest;

    assertions =
      map (s: {
        assertion = nameOk s.name;
        message = "services.cim-agent.secrets.\"${s.name}\": a secret's name may only contain letters, digits, '.', '_' and '-' (at most 128).";
      }) secrets
      ++ map (s: {
        assertion = inRepository s.file;
        message = "services.cim-agent.secrets.${s.name}.file: ${toString s.file} is outside the repository; give a file of the flake, such as ./secrets/${s.name}.age (a flake's files are in the Nix store)${
          lib.optionalString (cfg.repositoryRoot != null) ", under services.cim-agent.repositoryRoot ${toString cfg.repositoryRoot}"
        }.";
      }) secrets
      ++ map (s: {
        assertion = s.symlink == null || !(lib.hasPrefix "${secretsDir}/" s.symlink || s.symlink == secretsDir);
        message = "services.cim-agent.secrets.${s.name}.symlink: ${s.symlink} is inside the secrets directory ${secretsDir}; a symlink is an extra path outside it.";
      }) secrets
      ++ map (c: {
        assertion = false;
        message = "services.cim-agent.secrets: ${lib.concatMapStringsSep " and " (n: "secrets.${n}") c.names} are both installed at ${c.path}; give each secret a path of its own.";
      }) clashes;
  };
}
