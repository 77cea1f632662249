# NixOS VM test (needs KVM; `nix flake check` runs it on Linux as checks.vm):
# a git server serves a repository of signed commits, a host running the agent
# with the NixOS module deploys a good commit and rolls back a bad one.
#
# To stay small it deploys a Nix profile (platform = "profile") holding one
# file rather than a whole NixOS system, which would have to be built inside
# the VM. The health check fails when that file says "bad".
{ pkgs }:
let
  # A key for this test only, committed beside it: the host's allowedSigners
  # are checked when the configuration is evaluated, so the public half must
  # be known then, not made by a build.
  signingKey = ./vm-signing-key;
  signer = "ci@example.com " + pkgs.lib.removeSuffix "\n" (builtins.readFile ./vm-signing-key.pub);
  profile = "/nix/var/nix/profiles/cim-test";
in
pkgs.testers.runNixOSTest {
  name = "cim-agent";

  nodes = {
    server = {
      services.gitDaemon = {
        enable = true;
        basePath = "/srv/git";
        exportAll = true;
      };
      networking.firewall.allowedTCPPorts = [ 9418 ];
      # The daemon serves, as user git, a repository root created.
      environment.etc."gitconfig".text = "[safe]\n\tdirectory = *\n";
      environment.systemPackages = [ pkgs.git ];
    };

    host = {
      imports = [ ../module.nix ];
      services.cim-agent = {
        enable = true;
        allowedSigners = [ signer ];
        settings = {
          agent.poll_interval = "5s";
          agent.poll_jitter = "0s";
          repo.url = "git://server/fleet.git";
          nix = {
            platform = "profile";
            inherit profile;
            attr = "payload";
          };
          health = {
            timeout = "20s";
            interval = "2s";
            command = [ "! grep -q bad ${profile}" ];
          };
        };
      };
      # Builds in the VM need no substituter and no nixpkgs.
      nix.settings.substituters = pkgs.lib.mkForce [ ];
      virtualisation.memorySize = 1024;
    };
  };

  testScript = ''
    def commit(content, message):
        # The agent builds flakes: git+file://<mirror>?rev=...#payload.
        server.succeed(
            "cd /srv/git/work && "
            "cat > flake.nix <<'EOF'\n"
            "{ outputs = { self }: { payload = derivation { name = \"cim-test-payload\"; "
            "system = \"${pkgs.stdenv.hostPlatform.system}\"; builder = \"/bin/sh\"; "
            "args = [ \"-c\" \"echo " + content + " > $out\" ]; }; }; }\n"
            "EOF\n"
            "git add flake.nix && "
            "git -c gpg.format=ssh -c user.signingkey=/root/signing-key "
            "-c user.name=CI -c user.email=ci@example.com "
            f"commit -q -S -m '{message}' && "
            "git push -q origin HEAD:main"
        )

    start_all()
    server.wait_for_unit("git-daemon.service")
    server.succeed(
        "git init -q --bare -b main /srv/git/fleet.git && "
        "git clone -q /srv/git/fleet.git /srv/git/work && "
        # ssh-keygen refuses a private key others can read, as store paths are.
        "install -m 600 ${signingKey} /root/signing-key"
    )

    with subtest("a signed commit is deployed"):
        commit("good-1", "first")
        host.wait_for_unit("cim-agent.service")
        host.wait_until_succeeds("grep -q good-1 ${profile}", timeout=180)
        host.succeed("cim-agent status")

    with subtest("a commit that fails its health check is rolled back"):
        generations = host.succeed("ls -d ${profile}-*-link | wc -l").strip()
        commit("bad", "breaks health")
        host.wait_until_succeeds(
            f"test $(ls -d ${profile}-*-link | wc -l) -gt {generations}", timeout=180
        )
        host.wait_until_succeeds("grep -q good-1 ${profile}", timeout=120)
        host.sleep(15)
        host.succeed("grep -q good-1 ${profile}")
        host.succeed("systemctl is-active cim-agent.service")
  '';
}
