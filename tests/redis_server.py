"""A real redis-server on a free loopback port, started and broken by the tests themselves."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files; the certificate is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = folder / "redis.crt", folder / "redis.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_file, key_file


class RedisServer:
    """``tls=True`` serves TLS only, with a password, as ElastiCache with encryption in transit.
    ``cluster=True`` speaks the cluster protocol with every slot on this one node, as ElastiCache
    Serverless does: a command or transaction over keys of two slots fails with CROSSSLOT."""

    PASSWORD = "test-secret"

    def __init__(self, workdir: Path, *, tls: bool = False, cluster: bool = False) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed; `make test` installs it")
        self.executable = executable
        self.workdir = workdir
        self.port = free_port()
        self.tls = self_signed_certificate(workdir) if tls else None
        self.cluster = cluster
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.tls is None:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"rediss://:{self.PASSWORD}@127.0.0.1:{self.port}/0?ssl_ca_certs={self.tls[0]}"

    def start(self) -> RedisServer:
        """Start on a free port; redis-server cannot bind port 0 and say which port it got, so
        a port taken between the probe and the start is met by trying another one."""
        for _ in range(5):
            if self._started():
                if self.cluster:
                    self._own_every_slot()
                return self
            self.stop()
            self.port = free_port()
        raise RuntimeError("redis-server did not start on any of five free ports")

    def _own_every_slot(self) -> None:
        client = self.client()
        client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        deadline = time.monotonic() + 10
        while client.execute_command("CLUSTER", "INFO").find(b"cluster_state:ok") < 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the one-node cluster did not come up")
            time.sleep(0.01)

    def _started(self) -> bool:
        listen = ["--port", str(self.port)]
        if self.cluster:
            nodes = self.workdir / f"nodes-{self.port}.conf"
            listen += ["--cluster-enabled", "yes", "--cluster-config-file", str(nodes)]
        if self.tls is not None:
            certificate, key = (str(path) for path in self.tls)
            listen = [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                certificate,
                "--tls-key-file",
                key,
                "--tls-ca-cert-file",
                certificate,
                "--tls-auth-clients",
                "no",
                "--requirepass",
                self.PASSWORD,
            ]
        self.process = subprocess.Popen(
            [
                self.executable,
                *listen,
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = self.client()
        deadline = time.monotonic() + 10
        while self.process.poll() is None:  # it exits at once when the port is taken
            try:
                # Whoever answers on the port must be this process, not one that was there first.
                return int(client.info("server")["process_id"]) == self.process.pid
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.01)
        return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, but nothing ever answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            self.process.wait(timeout=10)
