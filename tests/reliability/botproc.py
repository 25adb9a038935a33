"""`python -m bot` as an OS process, for the SIGKILL tests (tests/reliability/test_kill_recovery.py) and the soak
bench (bench/soak.py): start with an environment of our own (no OPENAI/AZURE/Microsoft variables of the caller),
wait for /readyz, kill, and read the process's memory and descriptors from /proc."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI", "AZURE", "Microsoft", "KINTONE", "NEWS_", "QA_", "EMBEDDINGS", "LLM_"))}
    env.update(extra)
    return env


@dataclass
class Bot:
    proc: subprocess.Popen
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def children(self) -> list[int]:
        """Pids whose parent is this process (converter processes and the like)."""
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.pid:
                            out.append(int(entry))
                except (OSError, ValueError, IndexError):
                    continue
        return out

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or released."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    # -- what the process holds (Linux /proc) ----------------------------------------------------------------------
    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def sockets(self) -> dict[str, int]:
        """TCP sockets of the process by state (ESTABLISHED, LISTEN, TIME_WAIT …), from /proc/<pid>/net/tcp{,6}
        matched against the inodes of its own descriptors."""
        inodes = set()
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        states = {"01": "ESTABLISHED", "02": "SYN_SENT", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN"}
        out: dict[str, int] = {}
        for table in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{self.pid}/net/{table}") as f:
                    next(f)
                    for line in f:
                        parts = line.split()
                        if parts[9] in inodes:
                            state = states.get(parts[3], parts[3])
                            out[state] = out.get(state, 0) + 1
            except OSError:
                continue
        out["unix/other"] = len(inodes) - sum(out.values())
        return out


def start_bot(log: Path, *, module: str = "bot", args: tuple[str, ...] = (), **env: str) -> Bot:
    port = free_port()
    environment = clean_env(**{"HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "INFO", **env})
    proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, env=environment,
                            stdout=open(log, "a"), stderr=subprocess.STDOUT)
    return Bot(proc, f"http://127.0.0.1:{port}", log)


async def wait_ready(bot: Bot, timeout: float = 120.0) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(int(timeout * 10)):
            if bot.proc.poll() is not None:
                raise AssertionError("bot exited: " + bot.tail())
            try:
                async with s.get(bot.url + "/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("bot not ready: " + bot.tail())


def run_cli(log: Path, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """`python -m bot <args>` to the end (an admin command), output appended to `log`."""
    with open(log, "a") as out:
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=clean_env(**env), stdout=out,
                              stderr=subprocess.STDOUT, timeout=timeout)


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
