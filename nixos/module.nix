# NixOS module: services.cim-agent. The options and agent.conf are in
# common.nix (shared with nix-darwin); this file adds the systemd service.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.cim-agent;
in
{
  imports = [ ./common.nix ];

  config = lib.mkIf cfg.enable {
    services.cim-agent.settings.nix.platform = lib.mkDefault "nixos";
    # On NixOS a unit that fails to start is the commonest sign of a bad configuration.
    services.cim-agent.settings.health.systemd = lib.mkDefault true;

    # Declared secrets (nixos/secrets.nix) are installed by activation, as
    # agenix does: after users and groups exist, so an owner added by the same
    # commit is there, and before switch-to-configuration starts services.
    # Activating an older system (nixos-rebuild --rollback, the agent's
    # rollback) runs that system's snippet, which brings back its secrets.
    system.activationScripts.cim-agent-secrets = lib.mkIf (cfg.secrets != { }) {
      deps = [
        "specialfs"
        "users"
        "groups"
      ];
      text = cfg.activationCommand;
    };

    # Members may read the agent's state: `cim-agent status`, `history`.
    users.groups.cim-agent = { };

    systemd.services.cim-agent = {
      description = "cim-agent: deploys signed commits of a Git repository to this host";
      documentation = [ "man:cim-agent(8)" ];
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # The agent builds and switches through nix, and runs git for hooks and
      # diagnostics.
      path = [
        config.nix.package
        pkgs.git
      ];
      # The agent runs `switch-to-configuration` itself: restarting it during
      # that switch would kill the switch half-way. It picks up a new version
      # of itself or of agent.conf when it next starts.
      restartIfChanged = false;
      # Restart=always would otherwise stop after 5 quick failures.
      startLimitIntervalSec = 0;
      serviceConfig = {
        Type = "notify";
        ExecStart = "${lib.getExe' cfg.package "cim-agent"} -c /etc/cim-agent/agent.conf run";
        # systemctl reload: the agent rereads agent.conf (a bad file is
        # reported and the running configuration kept).
        ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
        # The agent pings the watchdog from its loop and while builds,
        # activations and health checks run; fetches and report POSTs are cut
        # at half this interval.
        WatchdogSec = lib.mkDefault "120s";
        # SIGTERM to the agent alone: a running build or activation ends, the
        # agent stops at the next step and its state file resumes the cycle.
        KillMode = "mixed";
        Restart = "always";
        RestartSec = lib.mkDefault "10s";
        # 0750: the agent gives it to settings.agent.status_group (default
        # cim-agent), whose members may run `cim-agent status` and `history`.
        StateDirectory = "cim-agent";
        StateDirectoryMode = "0750";
        # /run/cim-agent holds the decrypted secrets (settings.secrets.dir is
        # /run/cim-agent/secrets): a tmpfs, kept across restarts of the agent
        # because the services using the secrets go on running. 0751: a
        # service user must reach its own secret (each file has the owner and
        # mode of its manifest entry); no one but root may list them.
        RuntimeDirectory = "cim-agent";
        RuntimeDirectoryMode = "0751";
        RuntimeDirectoryPreserve = "yes";
        # Hardening stops here on purpose: the agent runs as root and its
        # children switch the whole system (write /nix, /etc and /boot, install
        # the boot loader, set the host name, create setuid wrappers and mount
        # points). Anything that makes a mount namespace (ProtectSystem,
        # ProtectHome, PrivateTmp, PrivateDevices, ProtectKernel*,
        # ProtectHostname, ...) would make those changes invisible to the host
        # or fail them; RestrictSUIDSGID would break security.wrappers. See
        # agent/cim-agent.service for the same choice on other distributions,
        # which leaves out NoNewPrivileges because of SELinux; NixOS has none.
        NoNewPrivileges = true;
        RestrictRealtime = true;
        # Decrypted secrets and identities are in the agent's memory.
        LimitCORE = 0;
      };
    };
  };
}
