"""A small Redis client: the few commands the result cache sends, over RESP2 on one socket.

Why not redis-py: a new container's first hit waits for every import, and redis-py's package
imports its asyncio client, cluster and sentinel support eagerly (~70 ms here, most of a cold
hit's time after the handler's own imports). The cache needs a command, a pipeline, a
transaction and a script; that is this module, on the standard library's socket (and ssl for
``rediss://``), and nothing else.

What it keeps from a full client: connections are made lazily and pooled (Lambda serves one
request at a time per container, the local server several); an idle connection the server
closed (a timeout, a failover, ElastiCache ending an IAM login after 12 hours) is noticed
before use and replaced, not blamed on the next command; every socket operation has the
timeout the cache asked for; a connection that failed mid-reply is thrown away, never reused
with half a reply in it. It logs in with ``AUTH`` (a URL's user and password, or
`Credentials` asked on every new connection, such as an IAM token) and names itself with
``CLIENT SETNAME``. It does not follow ``MOVED``: the cache keeps every multi-key command in
one hash slot and speaks to one endpoint, as ElastiCache Serverless expects.

Every failure is a `RedisError`: a refused or broken connection or a timeout is
`ConnectionFailed`, an error the server answered is `ReplyError` with its code (``NOPERM``,
``OOM``, ``READONLY``...), a refused login `AuthenticationFailed`.
"""

from __future__ import annotations

import hashlib
import select
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    import ssl

Argument = str | bytes | int | float
Reply = bytes | int | list["Reply"] | None

_DEFAULT_PORT = 6379
_TLS_OPTIONS = ("ssl_ca_certs", "ssl_cert_reqs", "ssl_check_hostname")


class RedisError(Exception):
    """Anything that went wrong talking to Redis."""


class ConnectionFailed(RedisError):
    """No answer: refused, reset, closed, timed out, or TLS failed."""


class ProtocolError(ConnectionFailed):
    """The bytes that came back are not RESP: the connection cannot be trusted any more."""


class ReplyError(RedisError):
    """The server answered with an error; ``code`` is its first word, such as ``NOPERM``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = message.split(" ", 1)[0]


class AuthenticationFailed(RedisError):
    """The login was refused, or there were no credentials to log in with."""


class Credentials(Protocol):
    """What a new connection logs in with: asked once per connection, so a short-lived
    password (an IAM token) can be made again when it grows old."""

    def get_credentials(self) -> tuple[str, str]: ...


class Endpoint(NamedTuple):
    """Where the server is and how to reach it, as ``REDIS_URL`` says:
    ``redis[s]://[user[:password]@]host[:port][/db][?ssl_ca_certs=...&ssl_cert_reqs=...]``."""

    host: str
    port: int = _DEFAULT_PORT
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_certs: str | None = None
    verify_certificate: bool = True
    check_hostname: bool = True

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        """Raises ValueError with a message that never contains the password."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("a Redis URL starts with redis:// or rediss:// (TLS)")
        try:
            port = parts.port or _DEFAULT_PORT
        except ValueError:
            raise ValueError("the Redis URL's port is not a number from 0 to 65535") from None
        if not parts.hostname:
            raise ValueError("the Redis URL names no host")
        path = parts.path.strip("/")
        if not path.isdigit() and path:
            raise ValueError(f"the Redis URL's database must be a number, got {path!r}")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(options) - set(_TLS_OPTIONS))
        if unknown:
            allowed = ", ".join(_TLS_OPTIONS)
            raise ValueError(f"the Redis URL's options may be {allowed}; got {', '.join(unknown)}")
        if options and parts.scheme != "rediss":
            raise ValueError("the Redis URL's ssl_ options need rediss://")
        cert_reqs = options.get("ssl_cert_reqs", "required").lower()
        if cert_reqs not in ("required", "none"):
            raise ValueError(f"ssl_cert_reqs must be required or none, got {cert_reqs!r}")
        check_hostname = options.get("ssl_check_hostname", "true").lower()
        if check_hostname not in ("true", "false"):
            raise ValueError(f"ssl_check_hostname must be true or false, got {check_hostname!r}")
        return cls(
            host=parts.hostname,
            port=port,
            db=int(path or 0),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            tls=parts.scheme == "rediss",
            ca_certs=options.get("ssl_ca_certs"),
            verify_certificate=cert_reqs == "required",
            check_hostname=check_hostname == "true" and cert_reqs == "required",
        )


class Script(NamedTuple):
    """A Lua script, sent by its SHA-1 and only once in full to a server that lacks it."""

    source: str

    @property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode("utf-8"), usedforsecurity=False).hexdigest()


class RedisClient:
    def __init__(
        self,
        endpoint: Endpoint,
        *,
        timeout_seconds: float,
        client_name: str | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._timeout = timeout_seconds
        self._client_name = client_name
        self._credentials = credentials
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._tls_context: ssl.SSLContext | None = None

    def execute(self, *command: Argument) -> Reply:
        [reply] = self.pipeline([command])
        return reply

    def pipeline(self, commands: Sequence[Sequence[Argument]]) -> list[Reply]:
        """Sends every command, then reads every reply: one round trip. Raises the first error
        the server answered with, after reading them all (the connection stays usable)."""
        replies = self._round_trip(commands)
        for reply in replies:
            if isinstance(reply, ReplyError):
                raise reply
        return replies  # type: ignore[return-value]  # errors were raised above

    def transaction(self, commands: Sequence[Sequence[Argument]]) -> list[Reply]:
        """The commands between MULTI and EXEC, in one round trip; their replies."""
        replies = self.pipeline([("MULTI",), *commands, ("EXEC",)])
        executed = replies[-1]
        if not isinstance(executed, list):
            raise ReplyError("EXECABORT the transaction was discarded")
        for reply in executed:
            if isinstance(reply, ReplyError):
                raise reply
        return executed

    def run_script(
        self, script: Script, keys: Sequence[Argument], args: Sequence[Argument]
    ) -> Reply:
        arguments = (len(keys), *keys, *args)
        try:
            return self.execute("EVALSHA", script.sha, *arguments)
        except ReplyError as error:
            if error.code != "NOSCRIPT":
                raise
        return self.execute("EVAL", script.source, *arguments)  # the server caches it from now on

    def _round_trip(self, commands: Sequence[Sequence[Argument]]) -> list[Reply | ReplyError]:
        connection = self._take()
        try:
            replies = connection.round_trip(commands)
        except BaseException:
            connection.close()  # it may hold part of a reply: never use it again
            raise
        with self._lock:
            self._idle.append(connection)
        return replies

    def _take(self) -> _Connection:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._connect()
            if connection.is_usable():
                return connection
            connection.close()

    def _connect(self) -> _Connection:
        endpoint = self._endpoint
        try:
            raw = socket.create_connection((endpoint.host, endpoint.port), self._timeout)
        except OSError as error:
            where = f"{endpoint.host}:{endpoint.port}"
            raise ConnectionFailed(f"cannot connect to {where}: {error}") from error
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if endpoint.tls:
                import ssl  # only a rediss:// URL pays for it

                raw = self._tls().wrap_socket(raw, server_hostname=endpoint.host)
                connection = _Connection(raw, (BlockingIOError, ssl.SSLWantReadError))
            else:
                connection = _Connection(raw)
            self._log_in(connection)
        except BaseException as error:
            raw.close()
            if isinstance(error, OSError):
                raise ConnectionFailed(f"TLS with {endpoint.host} failed: {error}") from error
            raise
        return connection

    def _log_in(self, connection: _Connection) -> None:
        endpoint = self._endpoint
        commands: list[tuple[Argument, ...]] = []
        if self._credentials is not None:
            commands.append(("AUTH", *self._credentials.get_credentials()))
        elif endpoint.password is not None:
            user = (endpoint.username,) if endpoint.username else ()
            commands.append(("AUTH", *user, endpoint.password))
        if self._client_name:
            commands.append(("CLIENT", "SETNAME", self._client_name))
        if endpoint.db:
            commands.append(("SELECT", endpoint.db))
        if not commands:
            return
        replies = connection.round_trip(commands)
        if commands[0][0] == "AUTH" and isinstance(replies[0], ReplyError):
            raise AuthenticationFailed(str(replies[0]))
        for reply in replies:
            if isinstance(reply, ReplyError):
                raise reply

    def _tls(self) -> ssl.SSLContext:
        import ssl

        if self._tls_context is None:
            endpoint = self._endpoint
            context = ssl.create_default_context(cafile=endpoint.ca_certs)
            context.check_hostname = endpoint.check_hostname
            if not endpoint.verify_certificate:
                context.verify_mode = ssl.CERT_NONE
            self._tls_context = context
        return self._tls_context


class _Connection:
    """One socket and its read buffer; not shared between threads while in use."""

    def __init__(
        self, sock: socket.socket, nothing_to_read: tuple[type[OSError], ...] = (BlockingIOError,)
    ) -> None:
        self._socket = sock
        self._reader = sock.makefile("rb")
        self._nothing_to_read = nothing_to_read

    def round_trip(self, commands: Sequence[Sequence[Argument]]) -> list[Reply | ReplyError]:
        try:
            self._socket.sendall(b"".join(_encoded(command) for command in commands))
            return [self._read() for _ in commands]
        except OSError as error:  # timeouts, resets and TLS errors alike
            raise ConnectionFailed(f"{type(error).__name__}: {error}") from error

    def is_usable(self) -> bool:
        """False when the server has closed this idle connection (or sent something unasked):
        an idle socket with something to read is at its end. TLS may have records without
        data to read (session tickets), which leave it usable."""
        try:
            readable, _, _ = select.select([self._socket], [], [], 0)
            if not readable:
                return True
            timeout = self._socket.gettimeout()
            self._socket.setblocking(False)
            try:
                self._socket.recv(1)  # b"" at the end; anything else is out of step
            except self._nothing_to_read:
                return True
            finally:
                self._socket.settimeout(timeout)
        except (OSError, ValueError):
            pass
        return False

    def close(self) -> None:
        try:
            self._reader.close()
            self._socket.close()
        except OSError:
            pass

    def _read(self) -> Reply | ReplyError:
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionFailed("the server closed the connection")
        kind, body = line[:1], line[1:-2]
        if kind == b"$":
            length = _number(body)
            if length < 0:
                return None
            data = self._reader.read(length + 2)
            if len(data) != length + 2:
                raise ConnectionFailed("the server closed the connection mid-reply")
            return data[:-2]
        if kind == b"+":
            return body
        if kind == b":":
            return _number(body)
        if kind == b"-":
            return ReplyError(body.decode("utf-8", "replace"))
        if kind == b"*":
            count = _number(body)
            if count < 0:
                return None
            return [self._read() for _ in range(count)]  # type: ignore[misc]
        raise ProtocolError(f"not a RESP reply: {line[:20]!r}")


def _number(text: bytes) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProtocolError(f"not a RESP length: {text[:20]!r}") from None


def _encoded(command: Sequence[Argument]) -> bytes:
    pieces = [b"*%d\r\n" % len(command)]
    for argument in command:
        if isinstance(argument, bytes):
            data = argument
        elif isinstance(argument, str):
            data = argument.encode("utf-8")
        else:
            data = repr(argument).encode("ascii")
        pieces.append(b"$%d\r\n" % len(data))
        pieces.append(data)
        pieces.append(b"\r\n")
    return b"".join(pieces)
