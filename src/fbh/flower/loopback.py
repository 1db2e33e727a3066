"""A real Flower deployment on 127.0.0.1: one SuperLink and N SuperNodes as separate OS processes.

TLS and SuperNode authentication are on, as a production federation runs them (flwr 1.42,
"Enable TLS connections" and "Authenticate SuperNodes" in Flower's docs):

- a throwaway CA signs the SuperLink's certificate for ``127.0.0.1``/``localhost``; every
  SuperNode and the ``flwr`` CLI trust only that CA (``--root-certificates`` and the
  connection's ``root-certificates``);
- each SuperNode holds an EC (P-384) key pair in OpenSSH format; the SuperLink runs with
  ``--enable-supernode-auth`` and admits only nodes whose public key was registered with
  ``flwr supernode register`` (CLI-managed authentication), checking each request's signed
  timestamp.

The ``flwr`` CLI reads its connection from ``$FLWR_HOME/config.toml``; every process here gets
a private ``FLWR_HOME`` under the work directory, so nothing touches the user's ``~/.flwr``.
Every child asks the kernel for SIGKILL when this process dies (``PR_SET_PDEATHSIG``, as
:mod:`fbh.chain.anvil` does), so a killed test run leaves no SuperLink behind; every wait has
a deadline and fails with the log tail.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# The kernel kills each child when this process dies (PR_SET_PDEATHSIG), exactly as for anvil; Flower's
# own helpers (SuperExec, ServerApp, ClientApp) watch their parent's pid and follow it.
from fbh.chain.anvil import _die_with_parent

__all__ = ["Credentials", "DeploymentError", "LoopbackDeployment", "config_args", "free_port", "write_credentials"]

CONNECTION = "fbh-loopback"
_BIN = Path(sys.executable).parent


class DeploymentError(RuntimeError):
    """A Flower process did not start, a node was not admitted, or a run failed."""


def config_args(values: dict[str, Any]) -> str:
    """``key=value`` pairs as flwr's ``--run-config``/``--node-config`` parse them (TOML values;
    strings as TOML literal strings, so JSON inside needs no escaping)."""
    def one(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        text = str(value)
        if "'" in text or "\n" in text:
            msg = f"flwr config values cannot hold a quote or newline: {text!r}"
            raise ValueError(msg)
        return f"'{text}'"
    return " ".join(f"{key}={one(value)}" for key, value in values.items())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ credentials

@dataclass(frozen=True)
class Credentials:
    """Paths of the deployment's TLS files and SuperNode key pairs."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    node_keys: list[Path]  # private keys (OpenSSH); the public key is ``<path>.pub``


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(b"")
    path.chmod(0o600)
    path.write_bytes(data)


def _ec_key_pair(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    _write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
    path.with_name(path.name + ".pub").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))


def write_credentials(directory: Path, num_nodes: int, *, days: int = 1) -> Credentials:
    """A CA, a server certificate for 127.0.0.1/localhost and ``num_nodes`` SuperNode key pairs.

    P-256 ECDSA certificates rather than the 4096-bit RSA of Flower's example: generated in
    milliseconds, and just as valid for TLS.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fbh loopback CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .sign(ca_key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server_cert = (x509.CertificateBuilder().subject_name(server_name).issuer_name(ca_name)
                   .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    creds = Credentials(ca_cert=directory / "ca.crt", server_cert=directory / "server.pem",
                        server_key=directory / "server.key",
                        node_keys=[directory / f"supernode_{i}" for i in range(num_nodes)])
    creds.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    creds.server_cert.write_bytes(server_cert.public_bytes(pem))
    _write_private(creds.server_key, server_key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    for path in creds.node_keys:
        _ec_key_pair(path)
    return creds


# ------------------------------------------------------------------ processes

@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def send(self, sig: int) -> None:
        """Sends ``sig`` to the process group (each process leads its own session, so its
        ServerApp/ClientApp children get it too)."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        """``sig``, then SIGKILL when the process has not exited within ``timeout`` seconds."""
        self.send(sig)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.popen.wait(timeout=timeout)


@dataclass
class LoopbackDeployment:
    """A SuperLink and ``num_nodes`` SuperNodes on 127.0.0.1, with TLS and node authentication.

    Use as a context manager; :meth:`close` stops every process (also those started later by
    :meth:`start_node`).

    Args:
        workdir: Holds the credentials, ``FLWR_HOME`` and one log per process.
        node_configs: One ``--node-config`` mapping per SuperNode (its length is the node count).
        timeout: Seconds to wait for the SuperLink to listen and for the nodes to come online.
    """

    workdir: Path
    node_configs: list[dict[str, Any]]
    timeout: float = 90.0
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    creds: Credentials | None = None
    superlink: _Process | None = None
    nodes: list[_Process | None] = field(default_factory=list)
    node_ids: list[int] = field(default_factory=list)
    _extra: list[_Process] = field(default_factory=list)

    # -------------------------------------------------------------- lifecycle

    def __enter__(self) -> LoopbackDeployment:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Credentials, SuperLink, node registration, SuperNodes; returns when every node is online."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.creds = write_credentials(self.workdir / "credentials", len(self.node_configs))
        self.port = free_port()
        home = self.workdir / "flwr-home"
        home.mkdir(exist_ok=True)
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "127.0.0.1:{self.port}"\nroot-certificates = "{self.creds.ca_cert}"\n')
        # The SuperLink and SuperNodes start flower-superexec / flwr-serverapp / flwr-clientapp from PATH.
        path = f"{_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
        # Flower starts a fresh ClientApp process for every message: a shared JAX compilation cache
        # spares each of them recompiling what an earlier one compiled (same executables, same results).
        jax_cache = {"JAX_COMPILATION_CACHE_DIR": str(self.workdir / "jax-cache"),
                     "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
        self.env = {**os.environ, **jax_cache, "FLWR_HOME": str(home), "PATH": path, "PYTHONUNBUFFERED": "1",
                    **self.env}
        self.superlink = self._spawn("superlink", [
            str(_BIN / "flower-superlink"), "--host", "127.0.0.1", "--port", str(self.port),
            "--ssl-ca-certfile", str(self.creds.ca_cert), "--ssl-certfile", str(self.creds.server_cert),
            "--ssl-keyfile", str(self.creds.server_key), "--enable-supernode-auth",
            "--disable-runtime-dependency-installation"])
        self._wait_listening(self.superlink, self.port)
        self.node_ids = [self.register(key) for key in self.creds.node_keys]
        self.nodes = [self.start_node(i) for i in range(len(self.node_configs))]
        self.wait_online(self.node_ids)

    def close(self) -> None:
        """Stops every SuperNode, then the SuperLink; safe to call twice."""
        procs = [p for p in [*self.nodes, *self._extra, self.superlink] if p is not None]
        for proc in procs:  # signal all first, so their shutdowns overlap
            proc.send(signal.SIGTERM)
        for proc in procs:
            proc.stop()

    # -------------------------------------------------------------- processes

    def _spawn(self, name: str, args: list[str]) -> _Process:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(_die_with_parent(args), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir,
                                     start_new_session=True)
        return _Process(name, popen, log)

    def _wait_listening(self, proc: _Process, port: int) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                msg = f"{proc.name} exited with code {proc.popen.returncode}:\n{proc.tail()}"
                raise DeploymentError(msg)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            time.sleep(0.1)
        msg = f"{proc.name} did not listen on 127.0.0.1:{port} within {self.timeout} s:\n{proc.tail()}"
        raise DeploymentError(msg)

    def flwr(self, *args: str, timeout: float | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs the ``flwr`` CLI against this deployment's connection."""
        done = subprocess.run([str(_BIN / "flwr"), *args], env=self.env, cwd=self.workdir, capture_output=True,
                              text=True, timeout=timeout or self.timeout, check=False)
        if check and done.returncode != 0:
            msg = f"flwr {' '.join(args)} exited with {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            raise DeploymentError(msg)
        return done

    def flwr_json(self, *args: str, timeout: float | None = None) -> dict[str, Any]:
        """``flwr ... --format json``, parsed; raises when flwr reports ``success: false``."""
        done = self.flwr(*args, "--format", "json", timeout=timeout)
        start = done.stdout.find("\n{") + 1 if not done.stdout.startswith("{") else 0
        try:
            reply = json.loads(done.stdout[start:])
        except json.JSONDecodeError:
            msg = f"flwr {' '.join(args)} printed no JSON:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            raise DeploymentError(msg) from None
        if not reply.get("success", False):
            msg = f"flwr {' '.join(args)} failed: {reply.get('error-message', reply)}"
            raise DeploymentError(msg)
        return reply

    def register(self, private_key: Path) -> int:
        """Registers a SuperNode's public key with the SuperLink (``flwr supernode register``)."""
        # The port accepts connections a moment before the Control API serves: retry until the deadline.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return int(self.flwr_json("supernode", "register", f"{private_key}.pub", CONNECTION)["node-id"])
            except DeploymentError as err:
                if time.monotonic() > deadline or "unavailable" not in str(err):
                    raise
                time.sleep(0.5)

    def start_node(self, index: int, *, private_key: Path | None = None, name: str | None = None) -> _Process:
        """Starts SuperNode ``index`` (its own runtime port and ``--node-config``)."""
        assert self.creds is not None
        config = config_args(self.node_configs[index])
        key = private_key if private_key is not None else self.creds.node_keys[index]
        args = [str(_BIN / "flower-supernode"), "--superlink", f"127.0.0.1:{self.port}",
                "--root-certificates", str(self.creds.ca_cert), "--auth-supernode-private-key", str(key),
                "--host", "127.0.0.1", "--port", str(free_port())]
        if config:
            args += ["--node-config", config]
        proc = self._spawn(name or f"supernode-{index}", args)
        if name is not None:
            self._extra.append(proc)
        return proc

    def node_statuses(self) -> dict[int, str]:
        """Node id → status (``registered``, ``online``, ``offline``, ...) as the SuperLink sees it."""
        reply = self.flwr_json("supernode", "list", CONNECTION)
        return {int(node["node-id"]): node["status"] for node in reply["nodes"]}

    def wait_online(self, node_ids: list[int]) -> None:
        """Waits until the SuperLink reports every node in ``node_ids`` online."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for proc in self.nodes:
                if proc is not None and proc.popen.poll() is not None:
                    msg = f"{proc.name} exited with code {proc.popen.returncode}:\n{proc.tail()}"
                    raise DeploymentError(msg)
            statuses = self.node_statuses()
            if all(statuses.get(node) == "online" for node in node_ids):
                return
            time.sleep(0.5)
        msg = f"nodes not online within {self.timeout} s: {self.node_statuses()}"
        raise DeploymentError(msg)

    def wait_received(self, index: int, message_type: str, count: int = 1, timeout: float | None = None) -> None:
        """Waits until SuperNode ``index`` has received ``count`` messages of ``message_type`` (its log)."""
        proc = self.nodes[index]
        assert proc is not None
        pattern = f"Receiving: {message_type} message"
        deadline = time.monotonic() + (timeout or self.timeout)
        while proc.log.read_text(errors="replace").count(pattern) < count:
            if time.monotonic() > deadline or proc.popen.poll() is not None:
                msg = f"{proc.name} did not receive {count} {message_type} message(s):\n{proc.tail()}"
                raise DeploymentError(msg)
            time.sleep(0.1)

    def kill_node(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Kills SuperNode ``index`` and the ClientApp it runs (the whole process group)."""
        proc = self.nodes[index]
        if proc is not None:
            proc.stop(sig)

    # -------------------------------------------------------------- runs

    def submit(self, app_dir: Path, run_config: dict[str, Any] | None = None) -> int:
        """``flwr run <app_dir>`` on this deployment; returns the run id."""
        args = ["run", str(Path(app_dir).resolve()), CONNECTION]
        if run_config:
            args += ["--run-config", config_args(run_config)]
        return int(self.flwr_json(*args, timeout=max(self.timeout, 120))["run-id"])

    def run_info(self, run_id: int) -> dict[str, Any]:
        """The SuperLink's record of a run (``flwr ls --run-id``): status, traffic, compute time."""
        return self.flwr_json("ls", CONNECTION, "--run-id", str(run_id))["runs"][0]

    def wait_run(self, run_id: int, timeout: float) -> dict[str, Any]:
        """Waits for the run to finish; returns its record, or raises with the ServerApp's logs."""
        deadline = time.monotonic() + timeout
        info = self.run_info(run_id)
        while not info["status"].startswith("finished"):
            if time.monotonic() > deadline:
                self.flwr("stop", str(run_id), CONNECTION, check=False)
                msg = f"run {run_id} not finished within {timeout} s (status {info['status']}):\n{self.logs(run_id)}"
                raise DeploymentError(msg)
            time.sleep(1.0)
            info = self.run_info(run_id)
        if info["status"] != "finished:completed":
            msg = f"run {run_id} ended {info['status']}:\n{self.logs(run_id)}"
            raise DeploymentError(msg)
        return info

    def logs(self, run_id: int) -> str:
        """The run's ServerApp logs as the SuperLink kept them (best effort)."""
        done = self.flwr("log", str(run_id), CONNECTION, "--show", check=False, timeout=30)
        return (done.stdout + done.stderr)[-4000:]
