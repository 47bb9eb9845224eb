"""Inputs of an engine's tasks on S3 (`engine.spark.storage: s3://bucket/prefix`), for clusters whose executors
cannot see the driver's folder (EMR, Dataproc, Kubernetes: object storage, not a shared disk).

The driver stages each input there keyed by its content (`s3://bucket/prefix/<sha256>/<name>`, a folder by the
hashes of its files), so an unchanged input is never uploaded twice, and hands the tasks that address instead of
its own path. The tasks read with Arrow's S3 file system, a range of bytes at a time; the driver still writes
every output, so the bytes are the local engine's.

Endpoint and credentials come from the standard AWS variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY); the Spark engine hands them to its executors. No message here ever holds the secret.
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from urllib.parse import urlparse

SCHEME = "s3://"
_FILESYSTEM: dict = {}  # one S3 file system per process (an executor reads many tasks' inputs)


class StorageError(RuntimeError):
    """The storage cannot be reached or used: one line, naming the endpoint and bucket, never the secret."""


def is_remote(path) -> bool:
    return str(path).startswith(SCHEME)


def join(base, name: str):
    """`base`/`name` for a local folder (a Path) or a storage address (a string: Path would fold its '//')."""
    return f"{str(base).rstrip('/')}/{name}" if is_remote(base) else Path(base) / name


def endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3") or ""


def filesystem(timeout: float = 60):
    """Arrow's S3 file system for the endpoint and credentials of the environment."""
    import pyarrow.fs as pafs  # pyarrow: not needed by the NumPy-only stages

    key = (endpoint(), os.environ.get("AWS_ACCESS_KEY_ID"), timeout)
    if key not in _FILESYSTEM:
        url = urlparse(endpoint()) if endpoint() else None
        _FILESYSTEM[key] = pafs.S3FileSystem(
            endpoint_override=url.netloc if url else None, scheme=url.scheme if url else "https",
            access_key=os.environ.get("AWS_ACCESS_KEY_ID"), secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
            region=os.environ.get("AWS_REGION", "us-east-1"), connect_timeout=min(timeout, 10),
            request_timeout=timeout, retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=3))
    return _FILESYSTEM[key]


def open_input(path):
    """A file to read (binary, seekable): a local path, or an address on the storage."""
    if is_remote(path):
        return filesystem().open_input_file(str(path)[len(SCHEME):])
    return open(path, "rb")


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class Storage:
    """The driver's side: `put` stages a file or folder and returns its address. Checks the bucket first, within
    `timeout` seconds, so a wrong secret, a missing bucket or an unreachable endpoint is one message before any
    task starts."""

    def __init__(self, url: str, timeout: float):
        parsed = urlparse(url)
        self.url, self.bucket, self.prefix = url.rstrip("/"), parsed.netloc, parsed.path.strip("/")
        self.timeout, self.uploaded, self.kept = timeout, 0, 0
        self.where = f"engine.spark.storage {self.url} at {endpoint() or 'the default AWS endpoint'}"
        self._check()

    def _check(self) -> None:
        import botocore.session  # with dvc-s3 (requirements.txt): the driver's check of the bucket
        from botocore.config import Config  # with dvc-s3, as above
        from botocore.exceptions import BotoCoreError, ClientError  # with dvc-s3, as above

        if not (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
            raise StorageError(f"{self.where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL "
                               "for a store that is not AWS) in the environment")
        # one attempt a call, bounded: the loop below retries until the deadline
        each = max(1.0, min(self.timeout / 3, 10))
        config = Config(connect_timeout=each, read_timeout=each, retries={"max_attempts": 1, "mode": "standard"})
        client = botocore.session.get_session().create_client(
            "s3", endpoint_url=endpoint() or None, region_name=os.environ.get("AWS_REGION", "us-east-1"),
            config=config)
        deadline, last = time.monotonic() + self.timeout, None
        while time.monotonic() < deadline:
            try:
                client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                if code in ("404", "NoSuchBucket"):
                    raise StorageError(f"{self.where}: the bucket {self.bucket} does not exist; create it, or name "
                                       "another in engine.spark.storage") from None
                if code in ("403", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied"):
                    raise StorageError(f"{self.where}: access to the bucket {self.bucket} is refused ({code}); check "
                                       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
                last = code or type(error).__name__
            except BotoCoreError as error:
                last = type(error).__name__
            time.sleep(1)
        raise StorageError(f"{self.where}: no answer from the store within {self.timeout:g} s "
                           f"(engine.spark.storage_timeout; last: {last})")

    def put(self, path: Path | str) -> str:
        """The address of a file or folder on the storage, uploading what is not there yet."""
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        digests = {p: file_digest(p) for p in files}
        if path.is_dir():
            key = hashlib.sha256("".join(f"{p.relative_to(path)}\0{d}\n" for p, d in digests.items()).encode())
            base = f"{self.bucket}/{self.prefix}/{key.hexdigest()}".replace("//", "/")
            targets = {p: f"{base}/{p.relative_to(path).as_posix()}" for p in files}
        else:
            base = f"{self.bucket}/{self.prefix}/{digests[path]}".replace("//", "/")
            targets = {path: f"{base}/{path.name}"}
        fs = filesystem(self.timeout)
        try:
            for local, target in targets.items():
                if fs.get_file_info(target).size == local.stat().st_size:  # content-keyed: there already
                    self.kept += 1
                    continue
                with open(local, "rb") as source, fs.open_output_stream(target) as sink:
                    while block := source.read(8 << 20):
                        sink.write(block)
                self.uploaded += 1
        except OSError as error:
            raise StorageError(f"{self.where}: cannot upload {path}: {str(error).splitlines()[0]}") from None
        return SCHEME + (base if path.is_dir() else targets[path])
