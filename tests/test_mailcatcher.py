"""The local mail catcher, as a real SMTP server on a free port."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from email.policy import default as default_policy
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot.mail.catcher import MAX_MESSAGE_BYTES, MailCatcher, MailCatcherHandler, latest
from bot.ops.serve import free_port
from bot.settings import ROOT

SENDER = "ESE and MassONE help desk <helpdesk@example.org>"
RESET_LINK = "http://127.0.0.1:8000/reset/abc"


def mail(to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def send(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(message)


def read(path: Path) -> EmailMessage:
    message = BytesParser(policy=default_policy).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def test_catches_mails_into_files_and_prints_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "var" / "mail"
    with MailCatcher(directory, port=free_port()) as catcher:
        assert directory.is_dir()
        send(catcher.port, mail("jdoe@example.net", "Votre nom d'utilisateur é", "jdoe42\n"))
        first_out = capsys.readouterr().out
        send(
            catcher.port,
            mail("parent@example.net", "Reset your password", f"Open {RESET_LINK}.\nBye\n"),
        )
        second_out = capsys.readouterr().out

    files = sorted(directory.iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]  # no temporary files left
    first, second = (read(path) for path in files)
    assert first["Subject"] == "Votre nom d'utilisateur é"
    assert first["To"] == "jdoe@example.net"
    assert first.get_content().splitlines() == ["jdoe42"]  # saved as sent: CRLF
    assert second["Subject"] == "Reset your password"
    assert second["To"] == "parent@example.net"
    assert RESET_LINK in second.get_content()
    assert latest(directory) == files[1]

    relative = Path("var", "mail")
    assert first_out == f"Mail caught: Votre nom d'utilisateur é -> {relative / files[0].name}\n"
    assert second_out.splitlines() == [
        f"Mail caught: Reset your password -> {relative / files[1].name}",
        f"    {RESET_LINK}",  # the trailing full stop is not part of the link
    ]


def test_refuses_oversize_messages_and_writes_nothing(tmp_path: Path) -> None:
    big = mail("parent@example.net", "Too big", "x" * 76 + "\n")
    big.set_content(("x" * 76 + "\n") * (MAX_MESSAGE_BYTES // 77 + 10))
    assert len(big.as_bytes(policy=SMTP)) > MAX_MESSAGE_BYTES
    with MailCatcher(tmp_path, port=free_port()) as catcher:
        # smtplib announces the size (the server advertises SIZE): refused at MAIL FROM.
        with pytest.raises(smtplib.SMTPResponseException) as refused:
            send(catcher.port, big)
        assert refused.value.smtp_code == 552
        # A client that does not announce the size is refused after the data.
        with smtplib.SMTP("127.0.0.1", catcher.port, timeout=5) as client:
            client.ehlo()
            client.mail("helpdesk@example.org")
            client.rcpt("parent@example.net")
            code, _reply = client.data(big.as_bytes(policy=SMTP))  # data() returns, not raises
            assert code == 552
        send(catcher.port, mail("parent@example.net", "Small", "fine\n"))  # still serving
    assert [read(path)["Subject"] for path in tmp_path.iterdir()] == ["Small"]


def test_handler_refuses_oversize_content_itself(tmp_path: Path) -> None:
    handler = MailCatcherHandler(tmp_path / "mail")
    data = b"Subject: big\r\n\r\n" + b"x" * MAX_MESSAGE_BYTES
    envelope = SimpleNamespace(original_content=data, content=data)
    assert asyncio.run(handler.handle_DATA(None, None, envelope)).startswith("552 ")
    assert not (tmp_path / "mail").exists()


def test_latest_without_mails(tmp_path: Path) -> None:
    assert latest(tmp_path / "missing") is None
    (tmp_path / ".partial.tmp").write_text("x")
    assert latest(tmp_path) is None


def test_command_runs_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.mail.catcher", "--dir", str(tmp_path / "mail"),
         "--port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the mail catcher did not start"
                time.sleep(0.1)
        send(port, mail("parent@example.net", "Reset your password", f"{RESET_LINK}\n"))
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    saved = latest(tmp_path / "mail")
    assert saved is not None
    assert f"saving it to {tmp_path / 'mail'}/" in out
    assert f"Mail caught: Reset your password -> {saved}\n    {RESET_LINK}\n" in out
