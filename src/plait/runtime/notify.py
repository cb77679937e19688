"""Mail notifications, as the reference sends them: ``mailOn.failure`` sends ``errorMail``
when a run fails, ``mailOn.success`` sends ``infoMail`` when it succeeds (partially too),
``mailOn.wait`` sends ``waitMail`` when it waits for a person, and a step with
``mailOnError`` sends ``errorMail`` when it fails.

The subject is ``PREFIX NAME (STATUS)``; the body a summary of the run and its steps; with
``attachLogs`` every step log is attached. All of it is masked. A mail that cannot be sent is
written in the run log and changes nothing else: a run that succeeded stays succeeded.
"""

from __future__ import annotations

import time

from plait.model import MailConfig, RunRecord, RunStatus, StepRecord, iso_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.runtime.run import RunExecution

__all__ = ["notify_run", "notify_step_failed"]


def notify_run(run: RunExecution, status: RunStatus) -> None:
    """The mail ``mailOn`` asks for when ``run`` ends with ``status`` (or waits)."""
    workflow = run.workflow
    mail_on = workflow.mail_on
    if status is RunStatus.FAILED and mail_on.get("failure"):
        _send(run, workflow.error_mail, status, "errorMail")
    elif status in (RunStatus.SUCCEEDED, RunStatus.PARTIALLY_SUCCEEDED) and mail_on.get("success"):
        _send(run, workflow.info_mail, status, "infoMail")
    elif str(status) == "waiting" and mail_on.get("wait"):
        _send(run, workflow.wait_mail, status, "waitMail")


def notify_step_failed(run: RunExecution, step: StepRecord) -> None:
    """``mailOnError`` of a step that failed: the workflow's ``errorMail``."""
    _send(run, run.workflow.error_mail, run.record.status, "errorMail", failed_step=step)


def _send(
    run: RunExecution,
    mail: MailConfig | None,
    status: RunStatus,
    field: str,
    failed_step: StepRecord | None = None,
) -> None:
    from plait.runtime.mail import MailError, send_mail

    if mail is None or not mail.to:
        run.log(f"mail not sent: `{field}` has no `to`")
        return
    masker = run.masker
    subject = masker.text(f"{mail.prefix} {run.workflow.name} ({status})".strip())
    body = masker.text(_summary(run.record, status, failed_step))
    attachments = _logs(run.record) if mail.attach_logs else []
    try:
        send_mail(
            run.smtp(),
            sender=mail.from_,
            to=mail.to,
            subject=subject,
            body=body,
            attachments=attachments,
        )
    except MailError as error:
        run.log(f"mail not sent: {error.message}")
        return
    run.log(f"mail sent to {', '.join(mail.to)}: {subject}")


def _summary(record: RunRecord, status: RunStatus, failed_step: StepRecord | None) -> str:
    lines = [
        f"Workflow: {record.name}",
        f"Run ID:   {record.run_id}",
        f"Status:   {status}",
        f"Started:  {iso_time(record.started_at) or '-'}",
        f"Finished: {iso_time(record.finished_at) or iso_time(time.time())}",
    ]
    if record.params:
        shown = " ".join(f"{k}={v}" if k else str(v) for k, v in record.params_json().items())
        lines.append(f"Params:   {shown}")
    if record.error:
        lines.append(f"Error:    {record.error}")
    if failed_step is not None:
        lines.append(f"Failed step: {failed_step.name}: {failed_step.error or 'failed'}")
    lines.append("")
    lines.append(f"{'#':>3}  {'step':30} {'status':20} error")
    for index, step in enumerate(record.steps, start=1):
        lines.append(f"{index:>3}  {step.name[:30]:30} {step.status!s:20} {step.error or ''}")
    return "\n".join(lines) + "\n"


def _logs(record: RunRecord) -> list[tuple[str, str]]:
    """The logs of the run's steps, each with the name of its attachment."""
    from plait.runtime.step import safe_name

    logs: list[tuple[str, str]] = []
    for step in record.steps:
        for path, kind in ((step.stdout_path, "out"), (step.stderr_path, "err")):
            if path and (kind == "out" or path != step.stdout_path):
                logs.append((f"{safe_name(step.name)}.{step.attempt}.{kind}", path))
    return logs
