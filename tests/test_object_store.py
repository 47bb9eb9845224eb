"""The object store as a component (`python -m tools.object_store`): a real SeaweedFS S3 gateway, started,
asked and stopped by the project's tool; requests are signed, anonymous ones refused."""
import json
import os
import urllib.error
import urllib.request

import pytest

from tests.conftest import free_port, object_store_tool


def s3(store, key=None, secret=None):
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "s3", endpoint_url=store["endpoint"], region_name="us-east-1", config=Config(retries={"max_attempts": 1}),
        aws_access_key_id=key or store["env"]["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or store["env"]["AWS_SECRET_ACCESS_KEY"])


def test_signed_requests_work_and_anonymous_or_wrongly_signed_ones_are_refused(object_store):
    from botocore.exceptions import ClientError

    client = s3(object_store)
    client.put_object(Bucket="dvc", Key="probe/hello.txt", Body=b"hello")
    assert client.get_object(Bucket="dvc", Key="probe/hello.txt")["Body"].read() == b"hello"
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(f"{object_store['endpoint']}/dvc/probe/hello.txt", timeout=10)
    assert anonymous.value.code == 403
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        s3(object_store, secret="not-the-secret").get_object(Bucket="dvc", Key="probe/hello.txt")


def test_status_names_the_process_and_the_kept_credentials_are_private(object_store):
    out = object_store_tool(object_store["folder"], "status")
    state = json.loads((object_store["folder"] / ".object-store/store.json").read_text())
    assert out.returncode == 0 and f"process {state['pid']} running" in out.stdout and "answering" in out.stdout
    kept = object_store["folder"] / ".object-store/credentials.env"
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    assert object_store["env"]["AWS_SECRET_ACCESS_KEY"] in kept.read_text()


def test_credentials_from_the_environment_a_second_start_refused_and_a_restart_right_after_stop(tmp_path):
    port = free_port()
    env = {"AWS_ACCESS_KEY_ID": "PROJECTTESTKEY", "AWS_SECRET_ACCESS_KEY": "project-test-secret-0123456789"}
    first = object_store_tool(tmp_path, "start", "--port", str(port), env=env)
    try:
        assert first.returncode == 0, first.stderr
        assert "export AWS_ACCESS_KEY_ID=PROJECTTESTKEY" in first.stdout
        store = {"endpoint": f"http://127.0.0.1:{port}", "env": env}
        s3(store).put_object(Bucket="dvc", Key="k", Body=b"v")  # the environment's identity is the store's
        again = object_store_tool(tmp_path, "start", "--port", str(port), env=env)
        assert again.returncode != 0 and "already running" in again.stderr
        pid = json.loads((tmp_path / ".object-store/store.json").read_text())["pid"]
        stopped = object_store_tool(tmp_path, "stop")
        assert stopped.returncode == 0 and f"process {pid}" in stopped.stdout
        assert not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2]
        restarted = object_store_tool(tmp_path, "start", "--port", str(port), env=env)  # the port at once
        assert restarted.returncode == 0, restarted.stderr
        assert s3(store).get_object(Bucket="dvc", Key="k")["Body"].read() == b"v"  # the data outlives a restart
    finally:
        object_store_tool(tmp_path, "stop")
