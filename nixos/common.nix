# services.cim-agent: the options NixOS (module.nix) and nix-darwin (darwin.nix)
# share, and what follows from them on both: /etc/cim-agent/agent.conf, the
# allowed signers file, the CLI on the system path and the assertions.
#
# settings mirrors agent.conf section by section (nixpkgs RFC 42): any key may
# be set; the ones below are typed and documented. A typed key left null is not
# written, and the agent's built-in default (named in its description) applies,
# so the defaults live in one place, the agent's key table (agent/config.c).
# Booleans are written yes/no, lists as the same key on several lines.
#
# agent.conf lands in the world-readable Nix store: it holds the *paths* of
# secret files (token, deploy key, HMAC key, NATS credentials), never their
# contents; the assertions refuse secret paths inside the store.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkOption
    mkEnableOption
    mkIf
    mkDefault
    types
    literalExpression
    ;

  cfg = config.services.cim-agent;

  settingsFormat = pkgs.formats.ini {
    listsAsDuplicateKeys = true;
    mkKeyValue = key: value: "${key} = ${value}";
  };

  # Absolute paths as strings: a Nix path literal (./token) is refused by the
  # type, because interpolating it would copy the file into the store.
  absPath = types.strMatching "/.*";
  duration = types.either types.ints.unsigned (types.strMatching "([0-9]+[smh])+|[0-9]+");

  # A typed key inside settings: null (not written) unless set.
  key =
    type: agentDefault: description:
    mkOption {
      type = types.nullOr type;
      default = null;
      description =
        description
        + lib.optionalString (agentDefault != null) " Unset (null): the agent's default, `${agentDefault}`.";
    };
  # A repeatable key: a list, written as one line per element.
  listKey =
    type: agentDefault: description:
    mkOption {
      type = types.listOf type;
      default = [ ];
      description =
        description
        + " Written as one `key = value` line per element."
        + lib.optionalString (agentDefault != null) " Empty: the agent's default, `${agentDefault}`.";
    };

  # Paths whose files hold secrets; they must not point into the store.
  secretKeys = [
    [ "repo" "token_file" ]
    [ "repo" "ssh_key" ]
    [ "report" "hmac_key_file" ]
    [ "fleet" "nats_creds_file" ]
  ];
  getKey = path: cfg.settings.${builtins.elemAt path 0}.${builtins.elemAt path 1} or null;
  inStore = p: p != null && lib.hasPrefix builtins.storeDir p;

  toValue =
    v:
    if v == true then
      "yes"
    else if v == false then
      "no"
    else
      toString v;
  # settings -> what settingsFormat renders: nulls and empty lists dropped,
  # values as text, empty sections dropped.
  rendered =
    let
      section = s: lib.mapAttrs (_: v: if builtins.isList v then map toValue v else toValue v) (
        lib.filterAttrs (_: v: v != null && v != [ ]) s
      );
    in
    lib.filterAttrs (_: s: s != { }) (lib.mapAttrs (_: section) cfg.settings);
  multiLine = lib.concatLists (
    lib.mapAttrsToList (
      sname: s:
      lib.concatLists (
        lib.mapAttrsToList (
          k: v:
          lib.optional (
            builtins.any (x: lib.hasInfix "\n" x) (if builtins.isList v then v else [ v ])
          ) "${sname}.${k}"
        ) s
      )
    ) rendered
  );

  configFile = settingsFormat.generate "cim-agent.conf" rendered;
  signersFile = pkgs.writeText "cim-agent-allowed-signers" (
    lib.concatStringsSep "\n" cfg.allowedSigners + "\n"
  );

  fleet = cfg.settings.fleet;
  fleetUsed = builtins.any (n: fleet.${n} != null && fleet.${n} != [ ]) (
    builtins.filter (n: n != "nats_url" && n != "nats_creds_file") (builtins.attrNames fleet)
  );
in
{
  options.services.cim-agent = {
    enable = mkEnableOption "cim-agent, which deploys signed commits of a Git repository to this host";

    package = mkOption {
      type = types.package;
      default = pkgs.cim-agent or (pkgs.callPackage ./package.nix { });
      defaultText = literalExpression "pkgs.cim-agent or (pkgs.callPackage ./package.nix { })";
      description = "The cim-agent package; its `cim-agent` command is also put on the system path.";
    };

    hostname = mkOption {
      type = types.nullOr types.str;
      default =
        let
          h = config.networking.hostName;
        in
        if h == null || h == "" then null else h;
      defaultText = literalExpression "config.networking.hostName";
      description = ''
        The name this host has in the repository (written as `[agent] hostname`).
        null: the agent asks the system for its host name.
      '';
    };

    allowedSigners = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "ada@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI..." ];
      description = ''
        Lines of an OpenSSH allowed_signers file: the keys whose signatures on a
        commit the agent accepts. Written to a file in the store that
        `settings.repo.allowed_signers` points at. Give either this or
        `settings.repo.allowed_signers`.
      '';
    };

    configFile = mkOption {
      type = types.package;
      readOnly = true;
      default = configFile;
      defaultText = literalExpression "the rendered settings";
      description = "The rendered agent.conf, linked to /etc/cim-agent/agent.conf.";
    };

    settings = mkOption {
      default = { };
      description = ''
        agent.conf, section by section: `settings.<section>.<key>`. Keys not
        listed here may be set too and are written as given.
      '';
      example = literalExpression ''
        {
          repo.url = "ssh://git@git.example.com/fleet.git";
          repo.ssh_key = "/run/keys/cim-deploy-key";
          health.url = [ "http://localhost:8080/healthz" ];
        }
      '';
      type = types.submodule {
        freeformType = settingsFormat.type;
        options = {
          agent = {
            hostname = key types.str null "The host's name in the repository; set from `services.cim-agent.hostname`.";
            state_dir = mkOption {
              type = absPath;
              default = "/var/lib/cim-agent";
              description = "Where the agent keeps its state (the service's StateDirectory on NixOS).";
            };
            poll_interval = key duration "60s" "How often the repository is fetched (90s, 5m, 1h30m).";
            poll_jitter = key duration "10s" "Random delay added to each poll, so a fleet does not fetch at once.";
            mode = key (types.enum [
              "switch"
              "boot"
              "build"
            ]) "switch" "What a new commit does: switch to it, make it the boot default, or only build it.";
            status_group = key types.str "cim-agent" "Members of this group may read state_dir, so `cim-agent status` and `history` work for them (the NixOS module creates the group `cim-agent`).";
          };
          repo = {
            url = key types.str null "The Git repository to follow (https://, ssh:// or a path). Required. Put no credentials in it: it is stored in the Nix store; use token_file or ssh_key.";
            branch = key types.str "main" "The branch to follow.";
            allowed_signers = key absPath null "Path of the allowed_signers file; set from `services.cim-agent.allowedSigners` when that is given.";
            verify = key (types.enum [
              "tip"
              "all"
            ]) "tip" "Verify the signature of the tip commit only, or of every new commit.";
            token_file = key absPath null "File holding an HTTPS access token (a path outside the store; its content is never put in agent.conf).";
            ssh_key = key absPath null "Private SSH deploy key for ssh:// URLs (a path outside the store).";
            known_hosts = key absPath null "known_hosts file for ssh:// URLs.";
            fetch_timeout = key duration "120s" "Time limit of one fetch.";
          };
          nix = {
            platform = key (types.enum [
              "nixos"
              "darwin"
              "system-manager"
              "profile"
            ]) null "What kind of system the agent switches (`nixos` by default on NixOS, `darwin` on nix-darwin).";
            attr = key types.str null "The flake attribute to build; the agent derives it from the platform and hostname when unset.";
            profile = key absPath null "The Nix profile to switch (for the `profile` platform).";
            nix = key absPath null "Path of the nix binary; the agent finds nix on its PATH when unset.";
            build_args = key types.str null "Extra arguments to `nix build`, split on spaces.";
            build_timeout = key duration "1h" "A build running longer than this is killed and fails.";
            current_system = key absPath "/run/current-system" "The running system's link (nixos, darwin).";
          };
          health = {
            timeout = key duration "120s" "How long a new generation has to become healthy before it is rolled back.";
            interval = key duration "5s" "Time between health probes.";
            settle = key duration "30s" "Once every check passed, how long they must keep passing before the deployment is committed; a failure in this window rolls back. 0s commits on the first pass.";
            systemd = key types.bool "no" "Whether failed systemd units make a generation unhealthy (the NixOS module turns it on); units that had failed before the activation are not counted.";
            url = listKey types.str null "URLs that must answer for the generation to be healthy.";
            expect_status = key types.ints.unsigned null "The HTTP status the health URLs must answer with; unset, any 2xx.";
            command = listKey types.str null "Shell commands that must succeed for the generation to be healthy.";
            remote = key types.bool "no" "Whether the git remote must still be reachable after the switch, so a configuration that cuts the network rolls back.";
          };
          secrets = {
            identity = listKey absPath "/etc/ssh/ssh_host_ed25519_key" "age identities (private keys) that decrypt the repository's secrets.";
            manifest = key types.str "secrets/secrets.conf" "The secrets manifest, relative to the repository root.";
            dir = key absPath "/run/cim-agent/secrets" "Where decrypted secrets are installed (a tmpfs).";
            allow_persistent = key types.bool "no" "Whether secrets may be installed outside a tmpfs.";
          };
          report = {
            url = key types.str null "Where the agent posts a report of each deployment.";
            hmac_key_file = key absPath null "File holding the key that signs reports (a path outside the store).";
            metrics_file = key absPath null "File the agent writes Prometheus metrics to.";
            command = key types.str null "Shell command run after each deployment.";
            timeout = key duration "10s" "Time limit of one report POST.";
            outbox_max = key types.ints.unsigned "1000" "Undelivered reports kept, oldest dropped first.";
          };
          fleet = {
            name = key types.str null "The fleet this host belongs to; needs `nats_url`.";
            wave = key types.ints.unsigned null "This host's wave in fleet roll-outs; needs `nats_url`.";
            nats_url = key types.str null "The NATS server the fleet coordinates through.";
            nats_creds_file = key absPath null "NATS credentials file (a path outside the store).";
          };
        };
      };
    };
  };

  config = mkIf cfg.enable {
    services.cim-agent.settings = {
      agent.hostname = mkDefault cfg.hostname;
      repo.allowed_signers = mkIf (cfg.allowedSigners != [ ]) (mkDefault "${signersFile}");
    };

    environment.etc."cim-agent/agent.conf".source = configFile;
    environment.systemPackages = [ cfg.package ];

    assertions =
      [
        {
          assertion = cfg.settings.repo.url != null && cfg.settings.repo.url != "";
          message = "services.cim-agent: settings.repo.url is not set; it names the Git repository the agent deploys from.";
        }
        {
          assertion = cfg.settings.repo.allowed_signers != null;
          message = "services.cim-agent: no allowed signers; set services.cim-agent.allowedSigners (allowed_signers lines) or settings.repo.allowed_signers (a path). The agent deploys only commits signed by these keys.";
        }
        {
          assertion = !fleetUsed || fleet.nats_url != null;
          message = "services.cim-agent: settings.fleet is set (name or wave) but settings.fleet.nats_url is not; a fleet coordinates through a NATS server.";
        }
        {
          assertion =
            cfg.settings.repo.url == null
            || builtins.match "[A-Za-z][A-Za-z0-9+.-]*://[^/@]*:[^/@]*@.*" cfg.settings.repo.url == null;
          message = "services.cim-agent: settings.repo.url contains a password, which would be stored in the world-readable Nix store; use settings.repo.token_file.";
        }
        {
          assertion = multiLine == [ ];
          message = "services.cim-agent: settings values must be single lines: ${lib.concatStringsSep ", " multiLine}.";
        }
      ]
      ++ map (p: {
        assertion = !inStore (getKey p);
        message = "services.cim-agent: settings.${lib.concatStringsSep "." p} is in the Nix store, which every user can read; give the path of a secret file outside it.";
      }) secretKeys
      ++ map (p: {
        assertion = !inStore p;
        message = "services.cim-agent: settings.secrets.identity ${p} is in the Nix store, which every user can read.";
      }) cfg.settings.secrets.identity;
  };
}
