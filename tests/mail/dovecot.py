"""A private IMAP server for tests: Debian's dovecot (``/usr/sbin/dovecot``) run in the
foreground with its own ``-c`` configuration in a temporary folder, on a free loopback port.

No system service is touched: its run, state and log folders, its users (a ``passwd-file``)
and its mail (maildir) all live in the folder; ``stop()`` ends the process it started.
Messages are placed with IMAP ``APPEND``, as a mail server delivering them would.
"""

from __future__ import annotations

import imaplib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER = "crm@inbox.example"
PASSWORD = "inbox-secret-42"
START_TIMEOUT = 20.0

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
instance_name = crmgen-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = {root}/dovecot.log
default_login_user = nobody
default_internal_user = nobody
default_internal_group = nogroup
mail_location = maildir:{root}/mail/%u
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def available() -> bool:
    return shutil.which(DOVECOT) is not None or Path(DOVECOT).exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    """One private dovecot with one mailbox (``USER``)."""

    def __init__(self) -> None:
        # a folder of its own under /tmp (pytest's are 0700 all the way: nobody could enter)
        self.root = Path(tempfile.mkdtemp(prefix="crmgen-dovecot-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``imap`` integration's URL of the mailbox."""
        user = urllib.parse.quote(USER, safe="")
        return f"imap://{user}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> None:
        self.root.chmod(0o755)  # dovecot's processes run as nobody: they read users and mail
        for folder in ("run", "state", "mail"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        (self.root / "mail").chmod(0o777)
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="utf-8")
        (self.root / "users").chmod(0o644)
        config = self.root / "dovecot.conf"
        config.write_text(CONFIG.format(root=self.root, port=self.port), encoding="utf-8")
        with (self.root / "stderr.log").open("wb") as errors:
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=errors
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"dovecot did not listen: {self.log()}") from None
                time.sleep(0.05)

    def log(self) -> str:
        parts = [self.root / "stderr.log", self.root / "dovecot.log"]
        return "\n".join(p.read_text(errors="replace") for p in parts if p.exists())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def append(self, raw: bytes) -> None:
        """Place a message in the mailbox (IMAP APPEND)."""
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            client.login(USER, PASSWORD)
            status, answer = client.append("INBOX", None, None, raw)
            assert status == "OK", answer
        finally:
            client.logout()
