"""A Spark standalone cluster on this machine, from the installed pyspark: a master and N workers, each its own JVM.

    python -m tools.spark_cluster start [--workers 2] [--cores 1] [--memory 1g] [--host 127.0.0.1] [--port 7077]
    python -m tools.spark_cluster status
    python -m tools.spark_cluster stop

(`make spark-cluster` and `make spark-cluster-stop` run the first and the last.) The pip pyspark has no start
scripts, so this starts the daemons with `spark-class`, the Java runtime of requirements-spark.txt, and their
work and log directories under `.spark/` (git-ignored). It binds to 127.0.0.1 unless --host says otherwise,
writes the process ids to `.spark/cluster.json` and stops the daemons by those ids. Then run the data stages on
it with `dvc exp run -S engine.name=spark -S engine.spark.master=spark://127.0.0.1:7077`.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SCRATCH = Path(".spark")
STATE = SCRATCH / "cluster.json"


def spark_class() -> Path:
    import pyspark  # optional: requirements-spark.txt (`make setup-spark`)

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def daemon(name: str, args: list[str], log: Path, env: dict, on=lambda argv: argv) -> subprocess.Popen:
    """Start a Spark daemon (spark-class execs its JVM, so the process id is the JVM's) in its own session;
    `on` wraps the command line to run it elsewhere (another host of tools.testbed, which execs it too)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(on([str(spark_class()), name, *args]), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def master_state(webui: str) -> dict | None:
    """The master's own record (its web UI's JSON): workers, running and completed applications."""
    try:
        with urllib.request.urlopen(f"{webui}/json/", timeout=5) as response:
            return json.load(response)
    except OSError:
        return None


def wait_for(what: str, ready, processes: list[subprocess.Popen], logs: list[Path], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        for process, log in zip(processes, logs):
            if process.poll() is not None:
                stop_pids([p.pid for p in processes])
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                raise SystemExit(f"spark_cluster: {log.stem} exited with code {process.returncode} before {what}; "
                                 f"the end of {log}:\n{tail}")
        time.sleep(0.5)
    stop_pids([p.pid for p in processes])
    raise SystemExit(f"spark_cluster: no {what} after {timeout:g} s; see the logs in {SCRATCH / 'logs'}")


def start(args) -> dict:
    from stages.engines.spark import check_installed

    if STATE.exists():
        raise SystemExit(f"spark_cluster: a cluster is already recorded in {STATE}; "
                         "`python -m tools.spark_cluster stop` first")
    check_installed()  # pyspark, and JAVA_HOME set to the pip-installed runtime when none is set
    for port, option in ((args.port, "--port"), (args.webui_port, "--webui-port")):
        if not port_free(args.host, port):
            raise SystemExit(f"spark_cluster: {args.host}:{port} is in use (another cluster? `python -m "
                             f"tools.spark_cluster stop`); choose another with {option}")
    scratch = SCRATCH.resolve()
    # maxRetries 0: a daemon whose port is taken stops with that error, not on the next port nobody expects
    env = {**os.environ, "SPARK_LOCAL_IP": args.host, "SPARK_LOG_DIR": str(scratch / "logs"),
           "SPARK_WORKER_DIR": str(scratch / "work"), "PYSPARK_PYTHON": sys.executable,
           "SPARK_DAEMON_JAVA_OPTS": "-Dspark.port.maxRetries=0"}
    master, webui = f"spark://{args.host}:{args.port}", f"http://{args.host}:{args.webui_port}"
    logs = [scratch / "logs" / "master.log"]
    processes = [daemon("org.apache.spark.deploy.master.Master",
                        ["--host", args.host, "--port", str(args.port), "--webui-port", str(args.webui_port)],
                        logs[0], env)]
    wait_for("master", lambda: (master_state(webui) or {}).get("status") == "ALIVE", processes, logs)
    for i in range(args.workers):
        logs.append(scratch / "logs" / f"worker-{i + 1}.log")
        processes.append(daemon("org.apache.spark.deploy.worker.Worker",
                                [master, "--host", args.host, "--cores", str(args.cores), "--memory", args.memory,
                                 "--webui-port", "0", "--work-dir", str(scratch / "work" / f"worker-{i + 1}")],
                                logs[-1], env))

    def workers_alive():
        workers = (master_state(webui) or {}).get("workers", [])
        return sum(w.get("state") == "ALIVE" for w in workers) >= args.workers

    wait_for(f"{args.workers} live workers", workers_alive, processes, logs)
    state = {"master": master, "webui": webui, "pids": [p.pid for p in processes]}
    STATE.write_text(json.dumps(state, indent=2) + "\n")
    print(f"Spark master {master} with {args.workers} worker(s) of {args.cores} core(s) and {args.memory} each; "
          f"web UI {webui}; logs in {SCRATCH / 'logs'}.\n"
          f"Run the data stages on it: dvc exp run -S engine.name=spark -S engine.spark.master={master}\n"
          "Stop it: python -m tools.spark_cluster stop")
    return state


def port_free(host: str, port: int) -> bool:
    """Whether nothing listens on host:port. SO_REUSEADDR, as the daemons themselves bind: the TIME-WAIT
    connections of a cluster just stopped do not count as "in use"."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def stop_pids(pids: list[int], grace: float = 15) -> None:
    """SIGTERM each daemon, then SIGKILL whatever is left after `grace` seconds."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie does not: nothing may reap it in a container)."""
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child (the tests start and stop in one process)
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop(args) -> None:
    if not STATE.exists():
        print("spark_cluster: no cluster recorded; nothing to stop")
        return
    state = json.loads(STATE.read_text())
    stop_pids(state["pids"])
    STATE.unlink()
    print(f"spark_cluster: stopped {state['master']} ({len(state['pids'])} processes)")


def status(args) -> None:
    if not STATE.exists():
        raise SystemExit("spark_cluster: no cluster recorded; start one with `python -m tools.spark_cluster start`")
    state = json.loads(STATE.read_text())
    record = master_state(state["webui"])
    if record is None:
        raise SystemExit(f"spark_cluster: {state['master']} does not answer; `python -m tools.spark_cluster stop`")
    workers = [w for w in record.get("workers", []) if w.get("state") == "ALIVE"]
    print(f"{state['master']}: {len(workers)} live worker(s), {len(record.get('activeapps', []))} running and "
          f"{len(record.get('completedapps', []))} completed application(s)")
    roles = ["master"] + [f"worker {i}" for i in range(1, len(state["pids"]))]
    for role, pid in zip(roles, state["pids"]):
        print(f"  {role}: process {pid} ({'running' if alive(pid) else 'gone'})")
    for w in record.get("workers", []):
        print(f"  worker {w.get('host')}:{w.get('port')}: {w.get('state')}, {w.get('cores')} core(s), "
              f"{w.get('memory')} MB, web UI {w.get('webuiaddress')}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.spark_cluster", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    begin = commands.add_parser("start", help="start a master and its workers")
    begin.add_argument("--workers", type=int, default=2, help="worker JVMs (default 2)")
    begin.add_argument("--cores", type=int, default=1, help="cores each worker offers (default 1)")
    begin.add_argument("--memory", default="1g", help="memory each worker offers (default 1g)")
    begin.add_argument("--host", default="127.0.0.1", help="address the daemons bind to (default 127.0.0.1)")
    begin.add_argument("--port", type=int, default=7077, help="the master's port (default 7077)")
    begin.add_argument("--webui-port", type=int, default=8080, help="the master's web UI port (default 8080)")
    commands.add_parser("status", help="the live workers and applications of the recorded cluster")
    commands.add_parser("stop", help="stop the recorded cluster's processes")
    args = parser.parse_args(argv)
    SCRATCH.mkdir(exist_ok=True)
    {"start": start, "status": status, "stop": stop}[args.command](args)


if __name__ == "__main__":
    main()
