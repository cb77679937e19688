"""Sending mail: the ``mail`` executor and the notifications of ``mailOn`` / ``mailOnError``.

The SMTP server is the workflow's ``smtp:``, else ``base.yaml``'s, else ``config.yaml``'s
(``host``, ``port``, ``username``, ``password``). Port 465 speaks TLS from the start; on any
other port STARTTLS is used when the server offers it. Every text is masked before it leaves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from plait.errors import PlaitError

__all__ = ["MailError", "send_mail", "smtp_settings"]

SMTP_TIMEOUT_SECONDS = 30.0
_MAX_ATTACHMENT = 10 * 1024 * 1024  # a log bigger than this is attached cut, saying so


class MailError(PlaitError):
    """A mail that could not be sent (no server set, refused, timed out)."""


def smtp_settings(*layers: Mapping[str, object] | None) -> dict[str, str]:
    """The first layer that names a host, as strings (later layers fill what it leaves out)."""
    merged: dict[str, str] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if value not in (None, "") and key not in merged:
                merged[key] = str(value)
    return merged


def send_mail(
    smtp: Mapping[str, str],
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    body: str,
    attachments: Sequence[str | tuple[str, str]] = (),
    timeout: float = SMTP_TIMEOUT_SECONDS,
) -> None:
    """Send one text mail.

    Raises:
        MailError: no server configured, no recipient, or the server did not take it.
    """
    import smtplib
    from email.message import EmailMessage

    host = smtp.get("host", "")
    if not host:
        raise MailError(
            "no SMTP server: set `smtp: {host, port}` in the workflow, base.yaml or config.yaml"
        )
    recipients = [address for address in to if address]
    if not recipients:
        raise MailError("the mail has no recipient")
    message = EmailMessage()
    message["From"] = sender or smtp.get("username", "") or "plait@localhost"
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message.set_content(body)
    for attachment in attachments:
        name, path = attachment if isinstance(attachment, tuple) else (None, attachment)
        _attach(message, path, name)
    port = int(smtp.get("port") or 25)
    try:
        client: smtplib.SMTP
        if port == 465:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            client.ehlo()
            if port != 465 and client.has_extn("starttls"):
                client.starttls()
                client.ehlo()
            if smtp.get("username"):
                client.login(smtp["username"], smtp.get("password", ""))
            client.send_message(message, from_addr=message["From"], to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise MailError(
            f"mail to {', '.join(recipients)} via {host}:{port} failed: {reason}"
        ) from None


def _attach(message: object, path: str, name: str | None = None) -> None:
    """Attach a file (or a log in a pack) as ``name`` (by default the file's name)."""
    from email.message import EmailMessage

    from plait.proc.logpack import read_start

    assert isinstance(message, EmailMessage)
    try:
        data = read_start(path, _MAX_ATTACHMENT + 1)
    except FileNotFoundError:
        return  # a stream that wrote nothing has no log
    except OSError as error:
        raise MailError(f"cannot attach {path}: {error.strerror}") from None
    if len(data) > _MAX_ATTACHMENT:
        data = data[:_MAX_ATTACHMENT] + b"\n[plait: attachment cut at 10 MiB]\n"
    filename = name or os.path.basename(path)
    message.add_attachment(data, maintype="text", subtype="plain", filename=filename)
