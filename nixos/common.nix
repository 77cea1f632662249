# services.cim-agent: the options NixOS (module.nix) and nix-darwin (darwin.nix)
# share, and what follows from them on both: /etc/cim-agent/agent.conf, the
# allowed signers file, the CLI on the system path and the assertions.
#
# settings mirrors agent.conf section by section (nixpkgs RFC 42): any key may
# be set; the ones below are typed and documented. A typed key left null is not
# written, and the agent's built-in default (named in its description) applies,
# so the defaults live in one place, the agent's key table (agent/config.c).
# Booleans are written yes/no, lists as the same key on several lines; a list
# key also takes a single string.
#
# Each thing is given one way: the host name through `hostname`, the allowed
# signers through `allowedSigners`; settings.agent.hostname and
# settings.repo.allowed_signers are written from them and cannot be set.
#
# With checkConfig (the default), `cim-agent check-config` reads the rendered
# file while the system is built, so a typo in a key that settings does not
# declare fails `nixos-rebuild` rather than the service.
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
    types
    literalExpression
    ;

  cfg = config.services.cim-agent;
  allowedSignersLine = import ./allowed-signers.nix { inherit lib; };

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
  # A list that also takes one element alone: "x" means [ "x" ].
  listOrOne = type: types.coercedTo types.str lib.singleton (types.listOf type);

  # A repeatable key: a list, written as one line per element.
  listKey =
    type: agentDefault: description:
    mkOption {
      type = listOrOne type;
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
    [ "fleet" "nats_key_file" ]
    [ "fleet" "host_key" ]
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
  # The file the host gets: configFile once the agent has read it. Today the
  # agent's check-config only parses; should it come to look at the files the
  # configuration names too, this is the place for its syntax-only flag,
  # since /run/keys and the like do not exist while the system is built.
  checkedConfigFile =
    if !cfg.checkConfig then
      configFile
    else
      pkgs.runCommand "cim-agent.conf"
        {
          preferLocalBuild = true;
          passthru.unchecked = configFile;
        }
        ''
          ${lib.getExe' cfg.package "cim-agent"} -c ${configFile} check-config >/dev/null
          cp ${configFile} "$out"
        '';
  signersFile = pkgs.writeText "cim-agent-allowed-signers" (
    lib.concatStringsSep "\n" cfg.allowedSigners + "\n"
  );
  # The one value a key gets from the option that gives it; setting the key as
  # well is refused by the module system (readOnly).
  derivedKey =
    type: value: text: description:
    mkOption {
      type = types.nullOr type;
      readOnly = true;
      default = value;
      defaultText = literalExpression text;
      inherit description;
    };

  fleet = cfg.settings.fleet;
  fleetUsed = builtins.any (n: fleet.${n} != null && fleet.${n} != [ ]) (
    builtins.filter (n: n != "nats_url" && n != "nats_creds_file") (builtins.attrNames fleet)
  );
in
{
  # services.cim-agent.secrets.<name>.
  imports = [ ./secrets.nix ];

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
        The name this host has in the repository (written as `[agent] hostname`;
        the one place to set it). null: the agent asks the system for its host
        name.
      '';
    };

    allowedSigners = mkOption {
      type = listOrOne allowedSignersLine;
      default = [ ];
      example = [ "ada@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI..." ];
      description = ''
        Lines of an OpenSSH allowed_signers file: the keys whose signatures on a
        commit the agent accepts, each as `principal key-type base64-key`
        (options such as `namespaces="git"` may come between the principal and
        the key type). They are checked when the configuration is evaluated:
        an authorized_keys line (a `.pub` file, which has no principal) is
        refused with a message. Blank lines and `#` comments are allowed, so
        `lib.splitString "\n" (builtins.readFile ./allowed_signers)` works.
        The lines are public keys and go to a file in the store, which
        `settings.repo.allowed_signers` points at; this is the only way to give
        the signers.

        The principal must be the committer's e-mail address (`git config
        user.email` of whoever signs): the agent accepts a commit only when a
        line whose principal matches the committer signed it. That is stricter
        than `git verify-commit`, which never compares the two; it stops the
        holder of one allowed key from committing in the name of another
        signer. A mismatch is refused with "key SHA256:... is allowed for
        principals 'ada@example.com' (line 1), not for 'ada@laptop.local'";
        the fix is a line with the committer's address as its principal, or
        committing with the `user.email` that the line names.
      '';
    };

    checkConfig = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether `cim-agent check-config` reads the rendered agent.conf while the
        system is built, so that a key the agent does not know (a typo in
        `settings`) fails the build instead of the service. It runs the
        package's binary on the build machine: turn it off when that machine
        cannot run it (cross-compiling).
      '';
    };

    configFile = mkOption {
      type = types.package;
      readOnly = true;
      default = checkedConfigFile;
      defaultText = literalExpression "the rendered settings";
      description = "The rendered agent.conf (checked by the agent when `checkConfig` is on), linked to /etc/cim-agent/agent.conf.";
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
            hostname =
              derivedKey types.str cfg.hostname "config.services.cim-agent.hostname"
                "The host's name in the repository: `services.cim-agent.hostname`, which is the place to set it.";
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
            allowed_signers =
              derivedKey absPath (if cfg.allowedSigners != [ ] then "${signersFile}" else null)
                "the file holding services.cim-agent.allowedSigners"
                "Path of the allowed_signers file, written from `services.cim-agent.allowedSigners`, which is the place to give the signers.";
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
            name = key types.str "hostname" "This host in the plan's hosts file and its key in the bucket; needs `nats_url`.";
            nats_url = listKey types.str null "The NATS servers the fleet coordinates through (nats:// or tls://); without one the agent deploys alone.";
            nats_creds_file = key absPath null "NATS credentials file (a path outside the store).";
            nats_ca_file = key absPath null "TLS: the CA bundle to trust.";
            nats_cert_file = key absPath null "TLS: the client certificate (with nats_key_file).";
            nats_key_file = key absPath null "TLS: the client certificate's key (a path outside the store).";
            bucket = key types.str "cim-fleet" "The JetStream key-value bucket of the host reports.";
            plan = key types.str "rollout.conf" "The rollout plan's path in the repository.";
            host_key = key absPath "the first secrets.identity" "The ed25519 key that signs this host's reports (a path outside the store).";
            trigger_subject = key types.str "cim.fleet.trigger" "The subject `cim-agent fleet trigger` publishes to.";
            trigger_spread = key duration "10s" "A triggered fetch waits up to this long, by a stable hash of the host name.";
          };
        };
      };
    };
  };

  config = mkIf cfg.enable {
    environment.etc."cim-agent/agent.conf".source = checkedConfigFile;
    environment.systemPackages = [ cfg.package ];

    assertions =
      [
        {
          assertion = cfg.settings.repo.url != null && cfg.settings.repo.url != "";
          message = "services.cim-agent: settings.repo.url is not set; it names the Git repository the agent deploys from.";
        }
        {
          assertion = cfg.settings.repo.allowed_signers != null;
          message = "services.cim-agent: no allowed signers; set services.cim-agent.allowedSigners to allowed_signers lines (\"ada@example.com ssh-ed25519 AAAA...\"). The agent deploys only commits signed by these keys.";
        }
        {
          assertion = !fleetUsed || fleet.nats_url != [ ];
          message = "services.cim-agent: settings.fleet is set but settings.fleet.nats_url is not; a fleet coordinates through a NATS server.";
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
