"""The values a run's steps see: params, env, outputs of earlier steps, special variables."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from plait.expr import (
    Resolve,
    ShellText,
    StepRef,
    evaluate,
    expand,
    resolve_reference,
    to_shell,
)
from plait.model import Param, Workflow
from plait.model.secret import Masker, secrets_by_name
from plait.proc import capture

__all__ = ["ENV_OUTPUT_LIMIT", "Scope", "merge_params"]

# Outputs bigger than this stay out of the environment of later steps (they are still
# reachable as ${VAR}): a fan-out's large result must never make the next exec fail.
ENV_OUTPUT_LIMIT = 16 * 1024
ENV_OUTPUTS_TOTAL_LIMIT = 256 * 1024
# A param is in the environment of steps while its NAME=VALUE fits the kernel's limit on one
# environment string (128 KiB) and the params together stay under a share of what a process
# may be given; a bigger one is a variable only: ${NAME} and $NAME in commands and scripts
# still get every byte (through a private file), nothing fails to start.
ENV_PARAM_LIMIT = 128 * 1024 - 1
ENV_PARAMS_TOTAL_LIMIT = 1024 * 1024


def merge_params(defaults: tuple[Param, ...], given: tuple[Param, ...]) -> list[tuple[Param, bool]]:
    """Defaults overridden by name by ``given``; given positionals replace default ones.

    Each param comes with whether it was given: a given value is data, taken as it is; a
    default is the author's text, evaluated (references, backticks).
    """
    given_named = {p.name: p.value for p in given if p.name is not None}
    given_positional = [p for p in given if p.name is None]
    merged: list[tuple[Param, bool]] = []
    default_positional = [p for p in defaults if p.name is None]
    # given positionals replace the defaults by position; later defaults stay
    merged.extend((p, True) for p in given_positional)
    merged.extend((p, False) for p in default_positional[len(given_positional) :])
    seen: set[str] = set()
    for param in defaults:
        if param.name is None:
            continue
        seen.add(param.name)
        if param.name in given_named:
            merged.append((Param(param.name, given_named[param.name]), True))
        else:
            merged.append((param, False))
    merged.extend(
        (Param(name, value), True) for name, value in given_named.items() if name not in seen
    )
    return merged


class Scope:
    """Variables for ``${...}`` and the environment handed to step processes.

    ``env`` is the process environment of steps (the plait process's, then base, dotenv,
    workflow env, params and small outputs). ``variables`` are what plait itself owns —
    params, outputs, ``ITEM`` — and the only names replaced inside command text; the rest is
    left to the shell, which sees it in the environment. Everywhere else (params, env values,
    conditions, paths) every name is expanded.
    """

    def __init__(self, environ: Mapping[str, str], working_dir: str) -> None:
        self.env: dict[str, str] = dict(environ)
        self.variables: dict[str, str] = {}
        self.steps: dict[str, StepRef] = {}
        self.params: list[Param] = []
        self.working_dir = working_dir
        self.backticks = True  # False for a dry run: nothing is executed
        self.secret_values: list[str] = []  # resolved from `secrets:`, to be masked
        self.assigned: set[str] = set()  # names this scope set (the rest: the agent's env)
        self._env_output_bytes = 0
        self._env_param_bytes = 0

    def runner(self) -> Callable[[ShellText], str] | None:
        """Backtick substitution: runs a command in the run's environment, returns stdout
        (None for a dry run: nothing is executed)."""
        if not self.backticks:
            return None

        def run(command: ShellText) -> str:
            return capture(command, env=self.env, cwd=self.working_dir)[1]

        return run

    def _all(self, extra: Mapping[str, str] | None) -> Mapping[str, str]:
        return {**self.env, **self.variables, **(extra or {})}

    def _owned(self, extra: Mapping[str, str] | None) -> Mapping[str, str]:
        return {**self.variables, **extra} if extra else self.variables

    def expand(self, text: str, extra: Mapping[str, str] | None = None) -> str:
        """Expand every known name, pasting values (for text that no shell will read)."""
        if "$" not in text:
            return text
        return expand(text, self._all(extra), self.steps)

    def expand_command(self, text: str) -> str:
        """Paste the values of the names plait owns; the environment is left to the shell.
        Only for text no POSIX shell reads as code: a dry run's plan, a script run by
        another interpreter."""
        if "$" not in text:
            return text
        return expand(text, self.variables, self.steps)

    def resolver(
        self, extra: Mapping[str, str] | None = None, *, everything: bool = False
    ) -> Resolve:
        """The values of the references plait owns (params, outputs, items, steps), or with
        ``everything`` of every name it knows (the environment too)."""
        known = self._all(extra) if everything else self._owned(extra)
        steps = self.steps
        return lambda match: resolve_reference(match, known, steps)

    def shell(
        self, text: str, extra: Mapping[str, str] | None = None, *, everything: bool = False
    ) -> ShellText:
        """Shell text whose references to the values plait owns (with ``everything``: every
        name it knows, for a shell on another host) are shell variables."""
        return to_shell(text, self.resolver(extra, everything=everything))

    def evaluate(self, text: str, extra: Mapping[str, str] | None = None) -> str:
        """The value of author text (env values, param defaults, conditions): references
        replaced by their values, backtick commands run (with values bound as variables)."""
        if "$" not in text and "`" not in text:
            return text
        return evaluate(text, self._all(extra), self.steps, self.runner(), self._owned(extra))

    def set(self, name: str, value: str, *, variable: bool = True) -> None:
        if variable:
            self.variables[name] = value
        self.env[name] = value
        self.assigned.add(name)

    def apply_params(self, params: list[tuple[Param, bool]]) -> None:
        """Params in order, each seeing those before it: a given value as it is, a default
        evaluated. Positionals become $1, $2 ..."""
        position = 0
        resolved: list[Param] = []
        for param, given in params:
            value = param.value if given else self.evaluate(param.value)
            if param.name is None:
                position += 1
                self._set_param(str(position), value)
            else:
                self._set_param(param.name, value)
            resolved.append(Param(param.name, value))
        self.params = resolved

    def _set_param(self, name: str, value: str) -> None:
        """A param: always a variable; in the environment only while it fits there."""
        self.variables[name] = value
        self.assigned.add(name)
        size = len(name) + 1 + len(value.encode("utf-8", "surrogateescape"))
        if size <= ENV_PARAM_LIMIT and self._env_param_bytes + size <= ENV_PARAMS_TOTAL_LIMIT:
            self.env[name] = value
            self._env_param_bytes += size
        else:
            self.env.pop(name, None)

    def apply_env(self, pairs: tuple[tuple[str, str], ...]) -> None:
        """Workflow env, in order, each value seeing those before it: in the environment of
        steps; the shell expands it in commands."""
        for key, value in pairs:
            self.set(key, self.evaluate(value), variable=False)

    def apply_dotenv(self, files: tuple[str, ...], base_dir: Path) -> None:
        if not files:
            return
        from dotenv import dotenv_values

        for name in files:
            path = base_dir / self.expand(name)
            if path.is_file():
                for key, value in dotenv_values(path).items():
                    if value is not None:
                        self.set(key, value, variable=False)

    def prepare(self, workflow: Workflow, base: Workflow | None, given: tuple[Param, ...]) -> None:
        """The layers of a run, in order, each seeing those before it: base env, dotenv
        files, secrets (base's, the workflow's), workflow env, then params (base's, the
        workflow's, overridden by ``given``).

        Raises:
            PlaitError: a secret that cannot be read.
        """
        if base is not None:
            self.apply_env(base.env)
        self.apply_dotenv(workflow.dotenv, workflow_dir(workflow))
        secrets = (base.secrets if base is not None else ()) + workflow.secrets
        if secrets:
            from plait.runtime.secrets import resolve_secrets

            folders = (Path(self.working_dir), workflow_dir(workflow))
            for name, value in resolve_secrets(secrets, self.env, folders).items():
                self.set(name, value, variable=False)
                self.secret_values.append(value)
        self.apply_env(workflow.env)
        defaults = (base.params if base is not None else ()) + workflow.params
        self.apply_params(merge_params(defaults, given))

    def add_output(self, name: str, value: str) -> None:
        """An output variable: always a variable; in the environment only while small."""
        self.variables[name] = value
        size = len(value)
        if size <= ENV_OUTPUT_LIMIT and self._env_output_bytes + size <= ENV_OUTPUTS_TOTAL_LIMIT:
            self.env[name] = value
            self._env_output_bytes += size
        else:
            self.env.pop(name, None)

    def masker(self, base: Masker) -> Masker:
        """``base`` (which knows the secrets of the agent's environment) and every secret
        this scope added: from ``secrets:``, and each variable whose name says it is one."""
        env = self.env
        added = {name: env[name] for name in self.assigned if name in env}
        return base.with_values([*self.secret_values, *secrets_by_name(added)])

    def add_step(self, names: tuple[str, ...], ref: StepRef) -> None:
        for name in names:
            self.steps[name] = ref

    def fork(self) -> Scope:
        """An independent copy (for a step's own env, or one item of a fan-out)."""
        other = Scope.__new__(Scope)
        other.env = dict(self.env)
        other.variables = dict(self.variables)
        other.steps = dict(self.steps)
        other.params = list(self.params)
        other.working_dir = self.working_dir
        other.backticks = self.backticks
        other.secret_values = list(self.secret_values)
        other.assigned = set(self.assigned)
        other._env_output_bytes = self._env_output_bytes
        other._env_param_bytes = self._env_param_bytes
        return other


def workflow_dir(workflow: Workflow) -> Path:
    return Path(workflow.source).parent if workflow.source else Path(os.getcwd())
