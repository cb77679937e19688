"""The canonical model of workflows and of the statuses of their runs. No I/O lives here."""

from plait.model.record import ChildRecord, RunRecord, StepRecord, iso_time
from plait.model.status import ACTIVE_RUN_STATUSES, FINAL_RUN_STATUSES, RunStatus, StepStatus
from plait.model.workflow import (
    DEFAULT_MAX_ACTIVE_RUNS,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_OUTPUT_SIZE,
    Condition,
    ContinueOn,
    GraphType,
    HandlerEvent,
    Parallel,
    Param,
    RepeatMode,
    RepeatPolicy,
    RetryPolicy,
    Schedule,
    Secret,
    Step,
    Workflow,
)

__all__ = [
    "ACTIVE_RUN_STATUSES",
    "DEFAULT_MAX_ACTIVE_RUNS",
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_MAX_OUTPUT_SIZE",
    "FINAL_RUN_STATUSES",
    "ChildRecord",
    "Condition",
    "ContinueOn",
    "GraphType",
    "HandlerEvent",
    "Parallel",
    "Param",
    "RepeatMode",
    "RepeatPolicy",
    "RetryPolicy",
    "RunRecord",
    "RunStatus",
    "Schedule",
    "Secret",
    "Step",
    "StepRecord",
    "StepStatus",
    "Workflow",
    "iso_time",
]
