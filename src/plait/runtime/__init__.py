"""Executes runs: the step state machine, child runs and fan-out, inside one agent process."""

from plait.runtime.agent import Agent, Observer
from plait.runtime.run import Parent, RunExecution

__all__ = ["Agent", "Observer", "Parent", "RunExecution"]
