# nix-darwin module: services.cim-agent as a launchd daemon. The options and
# agent.conf are in common.nix, shared with NixOS. launchd has no sd_notify
# watchdog nor state/runtime directories: KeepAlive restarts the agent and the
# activation script creates its directories.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.cim-agent;
  secretsDir = if cfg.settings.secrets.dir != null then cfg.settings.secrets.dir else "/run/cim-agent/secrets";
in
{
  imports = [ ./common.nix ];

  config = lib.mkIf cfg.enable {
    services.cim-agent.settings.nix.platform = lib.mkDefault "darwin";

    # macOS has no tmpfs at /run: nix-darwin links it to /private/var/run, on
    # disk but emptied at boot, so secrets need settings.secrets.allow_persistent
    # (see nixos/README.md).
    # The secrets directory itself is the agent's symlink to a generation; its
    # parent is 0751 so a service user reaches its own secret.
    system.activationScripts.postActivation.text = ''
      install -d -m 0700 ${lib.escapeShellArgs [ cfg.settings.agent.state_dir "/var/log/cim-agent" ]}
      install -d -m 0751 ${lib.escapeShellArg (dirOf secretsDir)}
    '';

    # nix-darwin runs a fixed list of activation scripts, users after groups
    # and both before launchd loads daemons: declared secrets (secrets.nix)
    # are installed at the end of `users`, the secrets directory's parent
    # made first since postActivation comes later.
    system.activationScripts.users.text = lib.mkIf (cfg.secrets != { }) (
      lib.mkAfter ''
        install -d -m 0751 ${lib.escapeShellArg (dirOf secretsDir)}
        ${cfg.activationCommand}''
    );

    launchd.daemons.cim-agent = {
      path = [
        config.nix.package
        pkgs.git
        "/usr/bin"
        "/bin"
        "/usr/sbin"
        "/sbin"
      ];
      serviceConfig = {
        ProgramArguments = [
          (lib.getExe' cfg.package "cim-agent")
          "-c"
          "/etc/cim-agent/agent.conf"
          "run"
        ];
        RunAtLoad = true;
        # launchd's Restart=always.
        KeepAlive = true;
        ThrottleInterval = 10;
        StandardOutPath = "/var/log/cim-agent/agent.log";
        StandardErrorPath = "/var/log/cim-agent/agent.log";
      };
    };
  };
}
