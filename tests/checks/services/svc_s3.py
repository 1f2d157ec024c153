"""moto's S3 in server mode (``ThreadedMotoServer`` on 127.0.0.1, free port), with IAM on.

Set-up runs with authentication off (moto's default); then
``INITIAL_NO_AUTH_ACTION_COUNT`` is set to 0, so every later request is checked
like AWS does: unknown key ids (``InvalidAccessKeyId``), bad signatures
(``SignatureDoesNotMatch``) and IAM denials (``AccessDenied``). The user
``checker`` may use buckets named ``open-*`` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import boto3
from moto import settings
from moto.server import ThreadedMotoServer

OPEN_BUCKET = "open-data"
CLOSED_BUCKET = "closed-data"
MISSING_BUCKET = "open-missing"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::open-*", "arn:aws:s3:::open-*/*"],
        }
    ],
}


@dataclass(frozen=True)
class MotoS3:
    port: int
    key_id: str
    secret: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _provision(url: str) -> tuple[str, str]:
    iam = boto3.client(
        "iam",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="admin",
        aws_secret_access_key="admin",
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="admin",
        aws_secret_access_key="admin",
    )
    iam.create_user(UserName="checker")
    iam.put_user_policy(
        UserName="checker", PolicyName="open-buckets", PolicyDocument=json.dumps(POLICY)
    )
    key = iam.create_access_key(UserName="checker")["AccessKey"]
    for bucket in (OPEN_BUCKET, CLOSED_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=OPEN_BUCKET, Key="hello.txt", Body=b"hello")
    return key["AccessKeyId"], key["SecretAccessKey"]


@contextlib.contextmanager
def moto_s3() -> Iterator[MotoS3]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
    try:
        key_id, secret = _provision(f"http://127.0.0.1:{port}")
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        yield MotoS3(port, key_id, secret)
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = previous
        server.stop()


@contextlib.asynccontextmanager
async def tls_front(context: ssl.SSLContext, backend_port: int) -> AsyncIterator[int]:
    """TLS on a loopback port, forwarding the plaintext to ``backend_port`` (moto)."""
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        back_reader, back_writer = await asyncio.open_connection("127.0.0.1", backend_port)
        for task in (pipe(reader, back_writer), pipe(back_reader, writer)):
            tasks.add(asyncio.ensure_future(task))

    server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
