"""``mail``: send a mail from a step (``config: {from, to, subject, message, attachments}``),
through the workflow's SMTP server (see ``plait.runtime.mail``)."""

from __future__ import annotations

from plait.runtime.executors import ExecutorFailure, StepIO
from plait.runtime.mail import MailError, send_mail

__all__ = ["run"]


def run(io: StepIO) -> int:
    config = io.config()
    to = config.get("to") or []
    recipients = [to] if isinstance(to, str) else [str(t) for t in to]
    recipients = [r.strip() for value in recipients for r in value.split(",") if r.strip()]
    masker = io.execution.masker
    subject = masker.text(str(config.get("subject", "")))
    message = masker.text(str(config.get("message", "")))
    sender = str(config.get("from", ""))
    io.out(
        f"sending email\n-----\nfrom: {sender}\nto: {', '.join(recipients)}\n"
        f"subject: {subject}\nmessage: {message}\n-----\n"
    )
    attachments = [io.expand(str(a)) for a in config.get("attachments") or []]
    try:
        send_mail(
            io.execution.run.smtp(),
            sender=sender,
            to=recipients,
            subject=subject,
            body=message,
            attachments=attachments,
            timeout=io.remaining() or 30.0,
        )
    except MailError as error:
        raise ExecutorFailure(error.message) from None
    io.out("sending email succeed.\n")
    return 0
