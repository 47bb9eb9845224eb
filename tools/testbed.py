"""Several hosts on this one machine, for tests of what crosses a network: network namespaces joined by veth
pairs to a bridge, each host with its own address in 198.18.0.0/24 (the range reserved for network tests).

    python -m tools.testbed up                      # the hosts below, and the bridge (needs root and iproute2)
    python -m tools.testbed run HOST -- CMD ...     # CMD on HOST (worker hosts cannot see the project's folder)
    python -m tools.testbed cut HOST | mend HOST    # take HOST's link down, or up again
    python -m tools.testbed down                    # every namespace and the bridge removed

Hosts: `storage` (the object store), `master` (the Spark master), `worker1` and `worker2` (Spark workers) and
`driver` (where `python -m stages ...` runs). A worker host runs its commands in a mount namespace of its own
in which the project's folder is an empty file system, except the installed software (`.venv`), as on a real
cluster node: nothing reaches its executors but what the engine ships or the object store holds.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PREFIX = "imdb"
BRIDGE = f"{PREFIX}-br0"
GATEWAY = "198.18.0.1"
HOSTS = {"storage": "198.18.0.10", "master": "198.18.0.11", "worker1": "198.18.0.21", "worker2": "198.18.0.22",
         "driver": "198.18.0.30"}
HIDDEN_PROJECT = {"worker1", "worker2"}


def namespace(host: str) -> str:
    return f"{PREFIX}-{host}"


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise SystemExit(f"testbed: ip {' '.join(args)}: {out.stderr.strip()}")
    return out


def up(hosts=HOSTS) -> None:
    """The bridge (with this machine's side at 198.18.0.1) and a namespace per host, each linked to it."""
    down(quiet=True)
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")
    for host, address in hosts.items():
        ns, veth = namespace(host), f"v{PREFIX}-{host}"
        ip("netns", "add", ns)
        ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("link", "set", veth, "master", BRIDGE)
        ip("link", "set", veth, "up")
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")


def down(quiet: bool = False) -> None:
    """Every namespace of the test bed and its bridge, removed (their processes are the caller's to stop)."""
    for host in HOSTS:  # the pairs first: a namespace's end of one goes away with it, but not at once
        ip("link", "del", f"v{PREFIX}-{host}", check=False)
    for ns in ip("netns", "list", check=False).stdout.split():
        if ns.startswith(f"{PREFIX}-"):
            pids = ip("netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                subprocess.run(["kill", "-9", pid], capture_output=True)
            ip("netns", "del", ns, check=False)
    ip("link", "del", BRIDGE, check=False)
    if not quiet:
        print("testbed: down")


def cut(host: str, state: str = "down") -> None:
    """Take a host's link down (its processes live on, unreachable), or up again."""
    ip("link", "set", f"v{PREFIX}-{host}", state)


def command(host: str, argv: list[str], hidden: tuple = (), cwd=None) -> list[str]:
    """The command line that runs `argv` on `host`: in its network namespace, and on a worker host with the
    project's folder (and any folder of `hidden`) hidden under an empty tmpfs but `.venv` kept, in a mount
    namespace of its own, where it starts in `cwd` (a folder it can see; else /). Every step execs the next, so
    the process id is `argv`'s."""
    prefix = ["ip", "netns", "exec", namespace(host)]
    if host not in HIDDEN_PROJECT:
        return prefix + argv
    venv = PROJECT / ".venv"
    hide = " && ".join(f"mount -t tmpfs tmpfs {shlex.quote(str(folder))}" for folder in (PROJECT, *hidden))
    script = (f'keep=$(mktemp -d) && mount --bind {shlex.quote(str(venv))} "$keep" && {hide} && '
              f'mkdir -p {shlex.quote(str(venv))} && mount --move "$keep" {shlex.quote(str(venv))} && '
              f'cd {shlex.quote(str(cwd or "/"))} && '
              'exec "$@"')
    return prefix + ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *argv]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.testbed", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up")
    commands.add_parser("down")
    run = commands.add_parser("run")
    run.add_argument("host", choices=HOSTS)
    run.add_argument("argv", nargs=argparse.REMAINDER)
    for name in ("cut", "mend"):
        commands.add_parser(name).add_argument("host", choices=HOSTS)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("testbed: network namespaces need root")
    if args.command == "up":
        up()
        print("testbed: " + ", ".join(f"{h} {a}" for h, a in HOSTS.items()))
    elif args.command == "down":
        down()
    elif args.command == "run":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        return subprocess.run(command(args.host, argv)).returncode
    else:
        cut(args.host, "down" if args.command == "cut" else "up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
