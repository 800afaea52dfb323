"""An emulated AWS account for the AWS commands: a moto server on 127.0.0.1 behind AWS_ENDPOINT_URL."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from handlers.cli import main
from tests.functional.fake_aws import use_fake_aws_credentials

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass
class EmulatedAccount:
    """The server's URL and clients made against it."""

    url: str

    def client(self, service: str) -> Any:
        """A boto3 client of the emulated account."""
        return boto3.client(service, region_name=REGION, endpoint_url=self.url)  # type: ignore[call-overload]

    def lambda_function(self, name: str) -> str:
        """Create a function (never invoked) and return its ARN."""
        iam = self.client("iam")
        role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(TRUST))
        role_arn = role["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("handler.py", "def handler(event, context):\n    return None\n")
        created = self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        return str(created["FunctionArn"])

    def filters(self, log_group: str) -> dict[str, str]:
        """Filter name → destination ARN on a group."""
        found = self.client("logs").describe_subscription_filters(logGroupName=log_group)
        return {f["filterName"]: f["destinationArn"] for f in found["subscriptionFilters"]}


def _reset(url: str) -> None:
    """Empty moto's backends: they live in this process and outlive a server."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(name="account")
def account_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatedAccount]:
    """A fresh moto server on a free loopback port, with the CLI's AWS environment pointing at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    _reset(url)
    use_fake_aws_credentials(monkeypatch, REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    yield EmulatedAccount(url)
    _reset(url)
    server.stop()


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run the real CLI in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def json_records(stdout: str) -> list[dict[str, Any]]:
    """Parse JSON lines."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
