"""The cache's own Redis client: the bytes it sends (known answers written out by hand from the
RESP specification), the replies it reads, and its behaviour against a real redis-server
(inspected with redis-py, an independent client) when connections die, stall or are refused."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from image_optimizer.resp import (
    AuthenticationFailed,
    ConnectionFailed,
    Endpoint,
    ProtocolError,
    RedisClient,
    ReplyError,
    Script,
)
from image_optimizer.settings import ConfigurationError, Settings
from redis_server import RedisServer, free_port


def client_for(url: str, **options: object) -> RedisClient:
    options.setdefault("timeout_seconds", 2)
    return RedisClient(Endpoint.from_url(url), **options)  # type: ignore[arg-type]


class CannedServer:
    """A listener that records what one connection sends and answers with fixed bytes."""

    def __init__(self, answer: bytes, expect_bytes: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self._answer, self._expect = answer, expect_bytes
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            while len(self.received) < self._expect:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                self.received += chunk
            connection.sendall(self._answer)
            connection.recv(1)  # hold the connection open until the client is done

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def canned() -> Iterator[list[CannedServer]]:
    servers: list[CannedServer] = []
    yield servers
    for server in servers:
        server.close()


class TestWire:
    def test_commands_are_arrays_of_bulk_strings(self, canned: list[CannedServer]) -> None:
        sent = (
            b"*6\r\n$3\r\nSET\r\n$4\r\nk\xc3\xa9y\r\n$3\r\n\x00\r\n\r\n$2\r\nNX\r\n$2\r\nPX\r\n"
            b"$4\r\n1500\r\n"
            b"*2\r\n$3\r\nGET\r\n$5\r\nepoch\r\n"
        )
        server = CannedServer(b"+OK\r\n$-1\r\n", len(sent))
        canned.append(server)
        client = client_for(f"redis://127.0.0.1:{server.port}")
        replies = client.pipeline([("SET", "kéy", b"\x00\r\n", "NX", "PX", 1500), ("GET", "epoch")])
        assert server.received == sent
        assert replies == [b"OK", None]

    def test_every_kind_of_reply(self, canned: list[CannedServer]) -> None:
        answer = (
            b":-42\r\n*3\r\n$1\r\na\r\n*2\r\n:1\r\n$0\r\n\r\n*-1\r\n$5\r\n\r\n\r\n\x00\r\n*0\r\n"
        )
        server = CannedServer(answer, 4 * len(b"*1\r\n$4\r\nPING\r\n"))
        canned.append(server)
        client = client_for(f"redis://127.0.0.1:{server.port}")
        replies = client.pipeline([("PING",)] * 4)
        assert replies == [-42, [b"a", [1, b""], None], b"\r\n\r\n\x00", []]

    def test_an_error_reply_is_raised_after_every_reply_was_read(
        self, canned: list[CannedServer]
    ) -> None:
        answer = b"-NOPERM no permission\r\n+OK\r\n"
        server = CannedServer(answer, 2 * len(b"*1\r\n$4\r\nPING\r\n"))
        canned.append(server)
        client = client_for(f"redis://127.0.0.1:{server.port}")
        with pytest.raises(ReplyError, match=r"^NOPERM no permission$") as raised:
            client.pipeline([("PING",), ("PING",)])
        assert raised.value.code == "NOPERM"

    @pytest.mark.parametrize(
        "answer", [b"?what\r\n", b"$abc\r\n", b"$10\r\nshort", b"+no end of line"]
    )
    def test_garbage_or_a_cut_reply_is_a_connection_failure(
        self, canned: list[CannedServer], answer: bytes
    ) -> None:
        server = CannedServer(answer, len(b"*1\r\n$4\r\nPING\r\n"))
        canned.append(server)
        client = client_for(f"redis://127.0.0.1:{server.port}", timeout_seconds=0.5)
        with pytest.raises(ConnectionFailed):
            client.execute("PING")

    def test_garbage_is_a_protocol_error(self, canned: list[CannedServer]) -> None:
        server = CannedServer(b"?what\r\n", len(b"*1\r\n$4\r\nPING\r\n"))
        canned.append(server)
        with pytest.raises(ProtocolError, match="not a RESP reply"):
            client_for(f"redis://127.0.0.1:{server.port}").execute("PING")


class TestEndpoint:
    def test_a_full_url(self) -> None:
        endpoint = Endpoint.from_url(
            "rediss://us%40er:p%3Ass@w@cache.example.com:6380/3?ssl_ca_certs=/ca.pem"
        )
        assert endpoint == Endpoint(
            host="cache.example.com",
            port=6380,
            db=3,
            username="us@er",
            password="p:ss@w",
            tls=True,
            ca_certs="/ca.pem",
        )

    def test_defaults(self) -> None:
        assert Endpoint.from_url("redis://h") == Endpoint(host="h")
        assert Endpoint.from_url("redis://:pw@h/").password == "pw"
        assert Endpoint.from_url("redis://:pw@h/").username is None

    def test_certificate_checks_can_be_turned_off(self) -> None:
        endpoint = Endpoint.from_url("rediss://h?ssl_cert_reqs=none")
        assert (endpoint.verify_certificate, endpoint.check_hostname) == (False, False)
        endpoint = Endpoint.from_url("rediss://h?ssl_check_hostname=false")
        assert (endpoint.verify_certificate, endpoint.check_hostname) == (True, False)

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("http://h", "redis:// or rediss://"),
            ("redis://:s3cret@h:99999", "port"),
            ("redis://:s3cret@/0", "no host"),
            ("redis://:s3cret@h/zero", "database must be a number"),
            ("rediss://:s3cret@h?socket_timeout=5", "got socket_timeout"),
            ("redis://:s3cret@h?ssl_ca_certs=/ca.pem", "need rediss://"),
            ("rediss://:s3cret@h?ssl_cert_reqs=optional", "ssl_cert_reqs must be required or none"),
        ],
    )  # fmt: skip
    def test_a_bad_url_is_a_configuration_error_that_hides_the_password(
        self, url: str, message: str
    ) -> None:
        with pytest.raises(ConfigurationError, match=message) as raised:
            Settings.from_env({"SOURCE_BUCKET": "b", "REDIS_URL": url})
        assert "s3cret" not in str(raised.value)


class TestAgainstRedis:
    def test_binary_values_of_every_byte_round_trip(self, redis_url: str) -> None:
        client = client_for(redis_url)
        value = bytes(range(256)) * 16384  # 4 MiB, "\r\n" included
        assert client.execute("SET", "k", value) == b"OK"
        assert client.execute("GET", "k") == value
        assert client.execute("GET", "absent") is None

    def test_a_transaction_returns_its_commands_replies(
        self, redis_url: str, shared_redis: RedisServer
    ) -> None:
        shared_redis.client().sadd("s", "a", "b")
        replies = client_for(redis_url).transaction(
            [("INCR", "n"), ("EXPIRE", "n", 60), ("SMEMBERS", "s")]
        )
        assert replies[:2] == [1, 1]
        assert sorted(replies[2]) == [b"a", b"b"]  # type: ignore[arg-type]

    def test_a_failed_command_inside_a_transaction_is_raised(self, redis_url: str) -> None:
        client = client_for(redis_url)
        client.execute("SET", "text", "x")
        with pytest.raises(ReplyError) as raised:
            client.transaction([("INCR", "text")])
        assert raised.value.code == "ERR"

    def test_an_error_leaves_the_connection_usable(
        self, redis_url: str, shared_redis: RedisServer
    ) -> None:
        client = client_for(redis_url)
        first = client.execute("CLIENT", "ID")
        with pytest.raises(ReplyError, match="unknown command"):
            client.pipeline([("NO-SUCH-COMMAND",), ("PING",)])
        assert client.execute("CLIENT", "ID") == first  # the same connection, in step

    def test_a_script_is_sent_in_full_only_when_the_server_lacks_it(
        self, redis_url: str, shared_redis: RedisServer
    ) -> None:
        script = Script("return {KEYS[1], ARGV[1]}")
        assert script.sha == hashlib.sha1(b"return {KEYS[1], ARGV[1]}").hexdigest()
        client = client_for(redis_url)
        admin = shared_redis.client()
        admin.script_flush()
        assert client.run_script(script, ["k"], [7]) == [b"k", b"7"]
        assert admin.script_exists(script.sha) == [True]  # EVAL cached it
        calls_before = _calls(admin, "eval")
        assert client.run_script(script, ["k2"], ["x"]) == [b"k2", b"x"]
        assert _calls(admin, "eval") == calls_before  # then EVALSHA only

    def test_the_url_database_name_and_login(self, own_redis: RedisServer) -> None:
        admin = own_redis.client()
        admin.acl_setuser("cache", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all"])
        url = own_redis.url.replace("redis://", "redis://cache:pw@").replace("/0", "/3")
        client = client_for(url, client_name="image-optimizer")
        client.execute("SET", "where", "here")
        assert admin.get("where") is None  # db 0
        in_db_3 = redis.Redis.from_url(own_redis.url.replace("/0", "/3"))
        assert in_db_3.get("where") == b"here"
        [ours] = [c for c in admin.client_list() if c["name"] == "image-optimizer"]
        assert (ours["user"], ours["db"]) == ("cache", "3")

    def test_a_refused_login(self, own_redis: RedisServer) -> None:
        own_redis.client().config_set("requirepass", "right")
        client = client_for(own_redis.url.replace("redis://", "redis://:wrong@"))
        with pytest.raises(AuthenticationFailed, match="WRONGPASS"):
            client.execute("PING")

    def test_credentials_are_asked_for_each_new_connection(self, own_redis: RedisServer) -> None:
        own_redis.client().acl_setuser(
            "iam", enabled=True, passwords=["+t1", "+t2"], keys=["*"], commands=["+@all"]
        )
        tokens = iter(["t1", "t2"])

        class Tokens:
            def get_credentials(self) -> tuple[str, str]:
                return "iam", next(tokens)

        client = client_for(own_redis.url, credentials=Tokens())
        assert client.execute("ACL", "WHOAMI") == b"iam"
        own_redis.client().client_kill_filter(user="iam")
        assert client.execute("ACL", "WHOAMI") == b"iam"  # a new connection, the second token
        with pytest.raises(StopIteration):
            next(tokens)

    def test_an_idle_connection_the_server_closed_is_replaced_before_use(
        self, own_redis: RedisServer
    ) -> None:
        client = client_for(own_redis.url, client_name="victim")
        first = client.execute("CLIENT", "ID")
        own_redis.client().client_kill_filter(_id=first)
        second = client.execute("CLIENT", "ID")  # no error: the dead one was noticed
        assert isinstance(second, int)
        assert second != first

    def test_a_stalled_server_times_out_and_its_connection_is_dropped(
        self, own_redis: RedisServer
    ) -> None:
        client = client_for(own_redis.url, timeout_seconds=0.2)
        first = client.execute("CLIENT", "ID")
        own_redis.pause()
        try:
            with pytest.raises(ConnectionFailed, match="TimeoutError"):
                client.execute("PING")
        finally:
            own_redis.resume()
        assert client.execute("CLIENT", "ID") != first  # the late PONG is never read as a reply

    def test_nobody_listening(self) -> None:
        client = client_for(f"redis://127.0.0.1:{free_port()}")
        with pytest.raises(ConnectionFailed, match="cannot connect"):
            client.execute("PING")

    def test_threads_get_their_own_replies(self, redis_url: str) -> None:
        client = client_for(redis_url)
        wrong: list[tuple[int, object]] = []

        def work(n: int) -> None:
            for i in range(200):
                value = f"{n}-{i}".encode()
                _, got = client.pipeline([("SET", f"t{n}", value), ("GET", f"t{n}")])
                if got != value:
                    wrong.append((n, got))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wrong == []


class TestTls:
    def test_a_certificate_it_cannot_verify_is_refused_unless_told(self, tmp_path: Path) -> None:
        server = RedisServer(tmp_path, tls=True).start()
        try:
            verified = client_for(server.url)
            assert verified.execute("PING") == b"PONG"
            without_ca = server.url.split("?")[0]
            with pytest.raises(ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED"):
                client_for(without_ca).execute("PING")
            unverified = client_for(f"{without_ca}?ssl_cert_reqs=none")
            first = unverified.execute("CLIENT", "ID")
            assert unverified.execute("CLIENT", "ID") == first  # the TLS connection is reused
        finally:
            server.stop()


def _calls(admin: object, command: str) -> int:
    stats = admin.info("commandstats")  # type: ignore[attr-defined]
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))
