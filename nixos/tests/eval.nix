# Evaluates nixos/module.nix and nixos/darwin.nix without nixpkgs, through the
# stand-in lib and pkgs of nixos/lib-stub, for tests/t/t0600-nix-modules.t:
#
#   nix eval --raw -f nixos/tests/eval.nix core.conf      # rendered agent.conf
#   nix eval --json -f nixos/tests/eval.nix core.service  # systemd service
#   nix eval --raw -f nixos/tests/eval.nix failures.noUrl # assertion messages
#
# An option that does not exist, a value of the wrong type or a misspelt
# attribute in the modules makes the evaluation fail.
let
  lib = import ../lib-stub/lib.nix;

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
        { config = cfg; }
      ];
      specialArgs.pkgs = import ../lib-stub/pkgs.nix { inherit lib system; };
    };
  evalNixos = eval {
    system = "x86_64-linux";
    base = ../lib-stub/nixos-base.nix;
    module = ../module.nix;
  };
  evalDarwin = eval {
    system = "aarch64-darwin";
    base = ../lib-stub/darwin-base.nix;
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
          wave = 2;
          nats_url = "nats://nats.example.com:4222";
          nats_creds_file = "/run/keys/nats.creds";
        };
        # A key the module does not declare is written as given (RFC 42).
        report.timeout = "30s";
      };
    };
  };

  withSettings =
    base: settings:
    lib.mkMerge [
      base
      { services.cim-agent.settings = settings; }
    ];

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
    waveWithoutNats = withSettings coreConfig { fleet.wave = 1; };
    secretInStore = withSettings coreConfig { repo.ssh_key = "/nix/store/0000-deploy-key"; };
    passwordInUrl = withSettings fullConfig { repo.url = lib.mkForce "https://deploy:s3cr3t@git.example.com/x.git"; };
    multiLine = withSettings coreConfig { repo.branch = lib.mkForce "main\nurl = https://evil.example.com/x.git"; };
  };

  # Definitions that must not evaluate at all; each is coreConfig (which
  # evaluates) with one mistake.
  mustFail = {
    unknownOption = lib.mkMerge [
      coreConfig
      { services.cim-agent.allowedSigner = signers; }
    ];
    unknownTopLevel = lib.mkMerge [
      coreConfig
      { services.cim-agnet.enable = true; }
    ];
    badEnum = withSettings coreConfig { agent.mode = "swtich"; };
    relativePath = withSettings coreConfig { repo.token_file = "keys/token"; };
    pathLiteral = withSettings coreConfig { repo.token_file = ./eval.nix; };
    badDuration = withSettings coreConfig { repo.fetch_timeout = "2 minutes"; };
  };

  summary =
    result:
    let
      c = result.config;
    in
    {
      conf = c.environment.etc."cim-agent/agent.conf".source.text;
      signersPath = toString c.services.cim-agent.settings.repo.allowed_signers;
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
    };

  core = nixosSummary coreConfig;
  full = nixosSummary fullConfig;

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
      a = (import ../lib-stub/pkgs.nix { inherit lib system; }).cim-agent.args;
    in
    {
      inherit (a) pname version makeFlags doCheck;
      buildInputs = map (p: p.name) a.buildInputs;
      nativeBuildInputs = map (p: p.name) a.nativeBuildInputs;
    };

  # The flake's outputs, with a fake nixpkgs input.
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
        legacyPackages = lib.genAttrs systems (system: import ../lib-stub/pkgs.nix { inherit lib system; });
      };
      outputs = (import ../../flake.nix).outputs {
        self = outputs;
        inherit nixpkgs;
      };
      names = set: lib.concatStringsSep " " (builtins.attrNames set);
    in
    {
      inputs = names (import ../../flake.nix).inputs;
      outputs = names outputs;
      modules = "${toString outputs.nixosModules.default} ${toString outputs.darwinModules.default}";
      overlay = (outputs.overlays.default nixpkgs.legacyPackages.x86_64-linux { }).cim-agent.name;
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
in
{
  inherit core full darwin flake;
  package = {
    linux = packageFor "x86_64-linux";
    darwin = packageFor "aarch64-darwin";
  };

  # The VM test's host node, through the harness: its agent.conf and the
  # assertions that would fail (none).
  vm =
    let
      pkgs = import ../lib-stub/pkgs.nix { inherit lib; };
      test = import ./vm.nix { inherit pkgs; };
      r = lib.evalModules {
        modules = [
          ../lib-stub/nixos-base.nix
          test.test.nodes.host
        ];
        specialArgs.pkgs = pkgs;
      };
    in
    summary r // { nodes = lib.concatStringsSep " " (builtins.attrNames test.test.nodes); };

  # Option paths declared by the NixOS module (the stub's own are left out).
  options = join (
    builtins.filter (lib.hasPrefix "services.cim-agent") (
      lib.optionPaths (evalNixos coreConfig).options
    )
  );

  # Newline-separated messages of the assertions that fail for each bad config.
  failures = builtins.mapAttrs (_: cfg: join (nixosSummary cfg).failed) badConfigs;

  # "ok" for each definition that is refused, "ACCEPTED" otherwise.
  refused = builtins.mapAttrs (_: cfg: if fails cfg then "ok" else "ACCEPTED") mustFail;

  # The NixOS service, as the lines a test can grep.
  serviceLines = join (
    lib.mapAttrsToList (k: v: "${k}=${if builtins.isBool v then lib.boolToString v else toString v}") (
      removeAttrs core.service [ "serviceConfig" "path" "unitConfig" "environment" "restartTriggers" ]
      // core.service.serviceConfig
    )
  );
}
