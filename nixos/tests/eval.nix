# Evaluates nixos/module.nix and nixos/darwin.nix with the real nixpkgs lib
# (lib.evalModules, its types and merging, as NixOS and nix-darwin use them)
# for tests/t/t0600-nix-modules.t. nixpkgs itself is not needed: the NixOS and
# nix-darwin options the modules set are declared in ./stubs with the real
# lib.mkOption, and ./stubs/pkgs.nix stands in for the few packages used.
#
#   nix eval --raw -f nixos/tests/eval.nix core.conf      # rendered agent.conf
#   nix eval --json -f nixos/tests/eval.nix core.service  # systemd service
#   nix eval --raw -f nixos/tests/eval.nix failures.noUrl # assertion messages
#   nix-build nixos/tests/eval.nix -A build.core --argstr cimAgent "$PWD/build/release/cim-agent"
#
# The lib is found as nixos/tests/nixpkgs-lib.nix says; --argstr nixpkgsLib
# DIR gives another. cimAgent is a built agent binary, for the build.* outputs.
{
  nixpkgsLib ? null,
  cimAgent ? null,
}:
let
  found = if nixpkgsLib != null then { path = nixpkgsLib; source = "--argstr nixpkgsLib"; } else import ./nixpkgs-lib.nix;
  lib = if found.path != null then import found.path else throw found.reason;

  stubPkgs = system: import ./stubs/pkgs.nix { inherit lib system; };

  eval =
    {
      system,
      base,
      module,
    }:
    cfg:
    lib.evalModules {
      modules = [
        base
        module
        cfg
      ];
      specialArgs.pkgs = stubPkgs system;
    };
  evalNixos = eval {
    system = "x86_64-linux";
    base = ./stubs/nixos.nix;
    module = ../module.nix;
  };
  evalDarwin = eval {
    system = "aarch64-darwin";
    base = ./stubs/nix-darwin.nix;
    module = ../darwin.nix;
  };

  signers = [ "ada@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" ];

  # Sample 1: only [agent] and [repo] keys, the sections the agent's parser
  # knows today, so that `cim-agent check-config` can judge the result.
  # nix.platform is nulled because [nix] is not parsed yet.
  coreConfig = {
    networking.hostName = "web1";
    services.cim-agent = {
      enable = true;
      allowedSigners = signers;
      settings = {
        agent.poll_interval = "5m";
        agent.poll_jitter = 30;
        repo = {
          url = "https://git.example.com/fleet.git";
          branch = "production";
          verify = "all";
          token_file = "/run/keys/cim-token";
          known_hosts = "/etc/ssh/ssh_known_hosts";
        };
        nix.platform = null;
      };
    };
  };

  # Sample 2: every section; checked as text only until the parser knows them.
  fullConfig = {
    networking.hostName = "web2";
    services.cim-agent = {
      enable = true;
      allowedSigners = signers;
      settings = {
        agent.mode = "boot";
        repo = {
          url = "ssh://git@git.example.com/fleet.git";
          ssh_key = "/run/keys/cim-deploy-key";
        };
        nix = {
          attr = "nixosConfigurations.web2";
          build_args = "--option cores 2";
        };
        health = {
          timeout = "3m";
          systemd = true;
          url = [
            "http://localhost:8080/healthz"
            "http://localhost:9090/-/ready"
          ];
          expect_status = 200;
          command = [ "systemctl is-active nginx" ];
          remote = false;
        };
        secrets = {
          identity = [
            "/etc/ssh/ssh_host_ed25519_key"
            "/var/lib/cim-agent/age.key"
          ];
          allow_persistent = false;
        };
        report = {
          url = "https://fleet.example.com/report";
          hmac_key_file = "/run/keys/cim-hmac";
          metrics_file = "/var/lib/prometheus-node-exporter/cim.prom";
        };
        fleet = {
          name = "edge";
          bucket = "edge-fleet";
          nats_url = "nats://nats.example.com:4222";
          nats_creds_file = "/run/keys/nats.creds";
        };
        # A key the module does not declare is written as given (RFC 42).
        report.timeout = "30s";
      };
    };
  };

  # base plus one more module: definitions merge as in a real configuration.
  with' = base: more: {
    imports = [
      base
      more
    ];
  };
  withSettings = base: settings: with' base { services.cim-agent.settings = settings; };
  withAgent = base: agent: with' base { services.cim-agent = agent; };

  # Sample 3: declared secrets (nixos/secrets.nix), one read by another
  # service through its path. The .age files are placeholders: evaluation
  # copies them to the store, nothing decrypts them.
  secretsConfig = with' coreConfig (
    { config, ... }:
    {
      services.cim-agent.repositoryRoot = ../..;
      services.cim-agent.secrets = {
        db = {
          file = ./secrets/db.age;
          owner = "postgres";
          group = "postgres";
          mode = "0440";
        };
        web-key = {
          file = ./secrets/web-key.age;
          symlink = "/etc/ssl/private/web.key";
        };
      };
      systemd.services.app.environment.DB_PASSWORD_FILE = config.services.cim-agent.secrets.db.path;
    }
  );
  withSecret = base: name: secret: with' base { services.cim-agent.secrets.${name} = secret; };

  badConfigs = {
    noUrl = {
      services.cim-agent = {
        enable = true;
        allowedSigners = signers;
      };
    };
    noSigners = {
      services.cim-agent = {
        enable = true;
        settings.repo.url = "https://git.example.com/fleet.git";
      };
    };
    fleetWithoutNats = withSettings coreConfig { fleet.name = "edge"; };
    planWithoutNats = withSettings coreConfig { fleet.plan = "deploy/rollout.conf"; };
    secretInStore = withSettings coreConfig { repo.ssh_key = "/nix/store/0000-deploy-key"; };
    passwordInUrl = withSettings fullConfig { repo.url = lib.mkForce "https://deploy:s3cr3t@git.example.com/x.git"; };
    multiLine = withSettings coreConfig { repo.branch = lib.mkForce "main\nurl = https://evil.example.com/x.git"; };
    secretOutsideRepo = withSecret secretsConfig "outside" { file = "/home/ada/secrets/outside.age"; };
    secretPathOutsideRepo = withSecret secretsConfig "outside" { file = /etc/outside.age; };
    secretNotInStore = withSecret coreConfig "db" { file = ./secrets/db.age; };
    secretsOnOnePath = withSecret secretsConfig "other" {
      file = ./secrets/db.age;
      symlink = "/etc/ssl/private/web.key";
    };
    secretLinkOnAPath = withSecret secretsConfig "other" {
      file = ./secrets/db.age;
      symlink = "/run/cim-agent/secrets/db";
    };
    secretBadName = withSecret secretsConfig "a b" { file = ./secrets/db.age; };
  };

  # Definitions that must not evaluate at all; each is coreConfig (which
  # evaluates) with one mistake.
  mustFail = {
    unknownOption = withAgent coreConfig { allowedSigner = signers; };
    unknownTopLevel = with' coreConfig { services.cim-agnet.enable = true; };
    badEnum = withSettings coreConfig { agent.mode = "swtich"; };
    relativePath = withSettings coreConfig { repo.token_file = "keys/token"; };
    pathLiteral = withSettings coreConfig { repo.token_file = ./eval.nix; };
    badDuration = withSettings coreConfig { repo.fetch_timeout = "2 minutes"; };
  };

  # More that must not evaluate, for the message the evaluation stops with
  # (t0600 reads it from nix's stderr): `errors.NAME` fails, or is "ACCEPTED".
  errorConfigs = {
    # The real lib's type check and its wording.
    jitterNotADuration = withSettings coreConfig { agent.poll_jitter = true; };
    # Two plain definitions of one value, as a second module would make.
    conflictingBranch = withSettings coreConfig { repo.branch = "main"; };
    # A systemd option of the wrong type in the stubbed NixOS options.
    restartIfChangedNotBool = with' coreConfig { systemd.services.cim-agent.restartIfChanged = "no"; };
    serviceTypeTypo = with' coreConfig { systemd.services.cim-agent.serviceConfig.Type = lib.mkForce "notfiy"; };
    # Given through their one option, the host name and signers are refused here.
    settingsHostname = withSettings coreConfig { agent.hostname = "web9"; };
    settingsSigners = withSettings coreConfig { repo.allowed_signers = "/etc/cim-agent/allowed_signers"; };
    # allowed_signers lines that the agent would refuse.
    authorizedKeysLine = withAgent coreConfig {
      allowedSigners = lib.mkForce [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ada@laptop" ];
    };
    signerWithoutKey = withAgent coreConfig { allowedSigners = [ "bob@example.com ssh-ed25519" ]; };
    signerWithoutType = withAgent coreConfig { allowedSigners = [ "bob@example.com AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkV" ]; };
    signerTypeMismatch = withAgent coreConfig {
      allowedSigners = [ "bob@example.com ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" ];
    };
    signerNotBase64 = withAgent coreConfig { allowedSigners = [ "bob@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5!!" ]; };
    signerTwoLines = withAgent coreConfig { allowedSigners = [ (lib.concatStringsSep "\n" signers + "\n" + lib.head signers) ]; };
    secretBadMode = with' secretsConfig { services.cim-agent.secrets.db.mode = lib.mkForce "0777x"; };
    secretBadOwner = with' secretsConfig { services.cim-agent.secrets.db.owner = lib.mkForce "-rf"; };
    secretSetPath = with' secretsConfig { services.cim-agent.secrets.db.path = "/etc/db"; };
  };

  summary =
    result:
    let
      c = result.config;
      source = c.environment.etc."cim-agent/agent.conf".source;
    in
    {
      # The text the module rendered, before the agent checks it.
      conf = (source.unchecked or source).text;
      signersPath = toString c.services.cim-agent.settings.repo.allowed_signers;
      # The lines written to the allowed_signers file, as the type left them.
      signers = lib.concatStringsSep "\n" c.services.cim-agent.allowedSigners;
      failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
      systemPackages = map (p: p.name) c.environment.systemPackages;
    };

  nixosSummary =
    cfg:
    let
      r = evalNixos cfg;
      c = r.config;
    in
    summary r
    // {
      service = c.systemd.services.cim-agent;
      groups = builtins.attrNames c.users.groups;
      # Forcing them checks each declaration's type.
      declaredSecrets = c.services.cim-agent.secrets;
    };

  secretsSummary =
    r:
    let
      c = r.config;
      m = c.environment.etc."cim-agent/secrets.conf".source or null;
    in
    {
      manifest = if m == null then "" else m.text;
      manifestPath = if m == null then "" else "${m}";
      activate = c.system.build.activate;
      etc = builtins.attrNames c.environment.etc;
    };
  core = nixosSummary coreConfig;
  full = nixosSummary fullConfig;

  secrets =
    let
      r = evalNixos secretsConfig;
      c = r.config;
    in
    summary r
    // secretsSummary r
    // {
      appEnv = c.systemd.services.app.environment.DB_PASSWORD_FILE;
      paths = lib.mapAttrs (_: s: s.path) c.services.cim-agent.secrets;
      # Another secrets directory moves every path.
      movedPath =
        (evalNixos (withSettings secretsConfig { secrets.dir = "/run/keys/cim"; })).config.services.cim-agent.secrets.db.path;
      noSecrets = secretsSummary (evalNixos coreConfig);
    };

  darwinSecrets =
    let
      r = evalDarwin {
        services.cim-agent = {
          enable = true;
          allowedSigners = signers;
          repositoryRoot = ../..;
          settings.repo.url = "https://git.example.com/fleet.git";
          settings.secrets.allow_persistent = true;
          secrets.db = {
            file = ./secrets/db.age;
            owner = "_postgres";
          };
        };
      };
    in
    summary r // secretsSummary r;

  darwin =
    let
      r = evalDarwin {
        services.cim-agent = {
          enable = true;
          allowedSigners = signers;
          settings.repo.url = "https://git.example.com/fleet.git";
        };
      };
    in
    summary r
    // {
      daemon = r.config.launchd.daemons.cim-agent;
      activation = r.config.system.activationScripts.postActivation.text;
    };

  # The package through callPackage, as nixpkgs would see it.
  packageFor =
    system:
    let
      a = (stubPkgs system).cim-agent.args;
    in
    {
      inherit (a) pname version makeFlags doCheck;
      buildInputs = map (p: p.name) a.buildInputs;
      nativeBuildInputs = map (p: p.name) a.nativeBuildInputs;
    };

  # The flake's outputs, with a stand-in nixpkgs input around the real lib.
  flake =
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      nixpkgs = {
        inherit lib;
        legacyPackages = lib.genAttrs systems stubPkgs;
      };
      outputs = (import ../../flake.nix).outputs {
        self = outputs;
        inherit nixpkgs;
      };
      names = set: lib.concatStringsSep " " (builtins.attrNames set);
      lock = lib.importJSON ../../flake.lock;
    in
    {
      inputs = names (import ../../flake.nix).inputs;
      outputs = names outputs;
      modules = "${toString outputs.nixosModules.default} ${toString outputs.darwinModules.default}";
      overlay = (outputs.overlays.default nixpkgs.legacyPackages.x86_64-linux { }).cim-agent.name;
      lockedInputs = names lock.nodes.${lock.root}.inputs;
      locked = lock.nodes.nixpkgs.locked;
      lockedOriginal = lock.nodes.nixpkgs.original;
    }
    // lib.genAttrs systems (system: {
      packages = names outputs.packages.${system};
      package = outputs.packages.${system}.default.name;
      checks = names outputs.checks.${system};
      devShell = map (p: p.name) outputs.devShells.${system}.default.args.packages;
      formatter = outputs.formatter.${system}.name;
    });

  join = lib.concatStringsSep "\n";
  fails =
    cfg:
    let
      r = builtins.tryEval (builtins.deepSeq (nixosSummary cfg) true);
    in
    !r.success;

  # Configurations whose system is built (nix-build), with the agent binary
  # given as cimAgent in place of the package, which would need nixpkgs.
  prebuilt =
    let
      pkgs = stubPkgs builtins.currentSystem;
      bin = builtins.path {
        path = /. + cimAgent;
        name = "cim-agent-bin";
      };
    in
    if cimAgent == null then
      throw "build.* needs --argstr cimAgent PATH-OF-A-BUILT-cim-agent"
    else
      pkgs.runCommand "cim-agent-0.1.0" { } ''
        mkdir -p "$out/bin"
        cp ${bin} "$out/bin/cim-agent"
      '';
  docOptions = builtins.filter (o: lib.hasPrefix "services.cim-agent" o.name && o.visible && !o.internal) (
    lib.optionAttrSetToDocList (evalNixos coreConfig).options
  );
  etcOf = cfg: (evalNixos (withAgent cfg { package = prebuilt; })).config.system.build.etc;
in
{
  inherit
    core
    full
    darwin
    flake
    secrets
    darwinSecrets
    ;
  package = {
    linux = packageFor "x86_64-linux";
    darwin = packageFor "aarch64-darwin";
  };

  # Which lib this is: t0600 prints it.
  lib = {
    inherit (found) path source;
    inherit (lib) version;
  };

  # The VM test's host node, through the harness: its agent.conf and the
  # assertions that would fail (none).
  vm =
    let
      pkgs = stubPkgs "x86_64-linux";
      test = import ./vm.nix { inherit pkgs; };
      r = lib.evalModules {
        modules = [
          ./stubs/nixos.nix
          test.test.nodes.host
        ];
        specialArgs.pkgs = pkgs;
      };
    in
    summary r // { nodes = lib.concatStringsSep " " (builtins.attrNames test.test.nodes); };

  # Option paths declared by the NixOS module (the stub's own are left out,
  # and so are the module system's internal ones, such as _module.args).
  options = join (map (o: o.name) docOptions);

  # The option documentation as the NixOS manual is made from it: every
  # visible option with its description, type and default rendered.
  docs = builtins.deepSeq docOptions (
    map (o: {
      inherit (o) name type readOnly;
      described = o.description or null != null && o.description != "";
    }) docOptions
  );

  # Newline-separated messages of the assertions that fail for each bad config.
  failures = builtins.mapAttrs (_: cfg: join (nixosSummary cfg).failed) badConfigs;

  # "ok" for each definition that is refused, "ACCEPTED" otherwise.
  refused = builtins.mapAttrs (_: cfg: if fails cfg then "ok" else "ACCEPTED") mustFail;

  # Each fails with its message on stderr.
  errors = builtins.mapAttrs (_: cfg: builtins.deepSeq (nixosSummary cfg) "ACCEPTED") errorConfigs;

  # How definitions of different priority merge, as in NixOS: the module's
  # mkDefault yields to a plain definition, mkForce beats a plain one, a
  # lower mkOverride number wins, mkBefore and mkAfter order a list.
  priorities =
    let
      s =
        (evalNixos (
          with' coreConfig {
            imports = [
              {
                services.cim-agent.settings = {
                  health.systemd = false;
                  agent.poll_interval = lib.mkForce "7m";
                  agent.mode = lib.mkOverride 900 "build";
                  health.url = lib.mkAfter [ "http://localhost/last" ];
                };
              }
              {
                services.cim-agent.settings = {
                  agent.mode = lib.mkDefault "boot";
                  health.url = [ "http://localhost/middle" ];
                };
              }
              { services.cim-agent.settings.health.url = lib.mkBefore "http://localhost/first"; }
            ];
          }
        )).config.services.cim-agent.settings;
    in
    {
      inherit (s.health) systemd url;
      inherit (s.agent) poll_interval mode;
    };

  # A list key and allowedSigners given a single string.
  single = nixosSummary (
    withAgent coreConfig {
      allowedSigners = lib.mkForce (lib.head signers);
      settings.health.url = "http://localhost:8080/healthz";
      settings.health.command = "systemctl is-active nginx";
      settings.secrets.identity = "/var/lib/cim-agent/age.key";
    }
  );

  # allowed_signers lines the agent accepts, from a file read line by line.
  signersFromFile = nixosSummary (
    withAgent coreConfig {
      allowedSigners = lib.mkForce (
        lib.splitString "\n" ''
          # the release team
          ada@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ada@laptop

          "bob@example.com,carol@example.com" namespaces="git",valid-after="20260101" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDcAY5+k+uKTUXtcdatzSSekvp3fIueM1jhi1aAlRX5G
        ''
      );
    }
  );

  # /etc of a built system: its agent.conf is the rendered one once the
  # agent has read it; a key the agent does not know fails the build.
  build = {
    core = etcOf coreConfig;
    full = etcOf fullConfig;
    typo = etcOf (withSettings coreConfig { repo.brnach = "main"; });
    unchecked = etcOf (
      withAgent (withSettings coreConfig { repo.brnach = "main"; }) { checkConfig = false; }
    );
  };

  # The NixOS service, as the lines a test can grep.
  serviceLines = join (
    lib.mapAttrsToList (k: v: "${k}=${if builtins.isBool v then lib.boolToString v else toString v}") (
      removeAttrs core.service [ "serviceConfig" "path" "unitConfig" "environment" "restartTriggers" ]
      // core.service.serviceConfig
    )
  );
}
