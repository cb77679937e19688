"""Loading YAML into the model: syntax, keys, documents, anchors, children."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from plait.errors import NotFoundError, Problem, SpecError
from plait.model import GraphType
from plait.spec import (
    load_all,
    load_base_file,
    load_file,
    load_text,
    resolve_child,
    validate_children,
)
from plait.spec import loader as spec_loader


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(folder: Path, text: str, name: str = "wf.yaml") -> list[Problem]:
    path = write(folder, name, text)
    with pytest.raises(SpecError) as info:
        load_file(path)
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_minimal_file_takes_name_from_stem_and_absolute_source(tmp_path: Path) -> None:
    path = write(tmp_path, "deploy.yaml", "steps:\n  - name: a\n    command: echo hi\n")
    workflow = load_file(path)
    assert workflow.name == "deploy"
    assert workflow.source == str(path.resolve())
    assert workflow.type is GraphType.CHAIN
    assert workflow.steps[0].name == "a"
    assert workflow.steps[0].command == "echo hi"
    assert workflow.steps[0].line == 2


def test_syntax_error_is_one_problem_with_its_line(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nsteps:\n  - name: a\n    command: [x\n"))
    assert problem.file.endswith("wf.yaml")
    assert problem.line == 5
    assert "YAML syntax error" in problem.message


def test_syntax_error_with_a_tab_names_the_line(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "name: x\nsteps:\n\t- name: a\n"))
    assert problem.line == 3
    assert "column 1" in problem.message


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    text = "name: x\nsteps:\n  - name: a\n    command: one\n    command: two\n"
    problem = only(problems_of(tmp_path, text))
    assert (problem.line, problem.field) == (5, "steps[0].command")
    assert "duplicate key `command` (first at line 4)" in problem.message


def test_unknown_key_suggests_the_closest_field(tmp_path: Path) -> None:
    text = "steps:\n  - name: a\n    command: x\n    dependz: b\n"
    problem = only(problems_of(tmp_path, text))
    assert (problem.line, problem.field) == (4, "steps[0].dependz")
    assert problem.message == "unknown field `dependz`; did you mean `depends`?"


def test_unknown_key_at_workflow_level(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "maxActivRuns: 2\nsteps:\n  - {name: a, command: x}\n"))
    assert (problem.line, problem.field) == (1, "maxActivRuns")
    assert "did you mean `maxActiveRuns`?" in problem.message


def test_snake_case_and_camel_case_mean_the_same(tmp_path: Path) -> None:
    camel = "maxActiveRuns: 3\nsteps:\n  - {name: a, command: x, timeoutSec: 5, workingDir: /w}\n"
    snake = (
        "max_active_runs: 3\nsteps:\n  - {name: a, command: x, timeout_sec: 5, working_dir: /w}\n"
    )
    one = load_text(camel, "one.yaml")
    two = load_text(snake, "one.yaml")
    assert one == two
    assert one.max_active_runs == 3
    assert one.steps[0].timeout_sec == 5.0
    assert one.steps[0].working_dir == "/w"


def test_both_spellings_of_a_field_are_a_duplicate(tmp_path: Path) -> None:
    text = "maxActiveRuns: 1\nmax_active_runs: 2\nsteps:\n  - {name: a, command: x}\n"
    problem = only(problems_of(tmp_path, text))
    assert (problem.line, problem.field) == (2, "max_active_runs")
    assert "same field as `maxActiveRuns` (line 1)" in problem.message


def test_alias_and_field_together_are_a_duplicate(tmp_path: Path) -> None:
    text = "steps:\n  - name: a\n    run: x\n    call: y\n"
    problem = only(problems_of(tmp_path, text))
    assert (problem.line, problem.field) == (4, "steps[0].call")
    assert "same field as `run`" in problem.message


def test_aliases_dir_call_precondition_abort() -> None:
    workflow = load_text(
        textwrap.dedent(
            """\
            name: w
            handlerOn:
              abort:
                command: echo stop
            precondition: test -d /
            steps:
              - name: a
                call: child
                dir: /tmp
              - name: child-user
                command: x
                precondition:
                  - condition: "${A}"
                    expected: "1"
            """
        )
    )
    assert workflow.steps[0].run == "child"
    assert workflow.steps[0].working_dir == "/tmp"
    assert workflow.preconditions[0].condition == "test -d /"
    assert workflow.steps[1].preconditions[0].expected == "1"
    (handler,) = workflow.handlers.values()
    assert handler.name == "onCancel"


def test_multi_document_file_shares_local_documents(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "main.yaml",
        """\
        steps:
          - name: prepare
            run: child-workflow
        ---
        name: child-workflow
        steps:
          - name: extract
            command: echo
        """,
    )
    workflows = load_all(path)
    assert [w.name for w in workflows] == ["main", "child-workflow"]
    assert workflows[0].local is workflows[1].local
    assert set(workflows[0].local) == {"main", "child-workflow"}
    assert workflows[1].line == 5
    assert workflows[1].steps[0].line == 7
    assert load_file(path).name == "main"


def test_later_document_without_name_is_an_error(tmp_path: Path) -> None:
    text = "steps:\n  - {name: a, command: x}\n---\nsteps:\n  - {name: b, command: x}\n"
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 4
    assert "needs a `name`" in problem.message


def test_two_documents_with_one_name_are_an_error(tmp_path: Path) -> None:
    text = (
        "name: a\nsteps:\n  - {name: a, command: x}\n"
        "---\nname: a\nsteps:\n  - {name: b, command: x}\n"
    )
    problem = only(problems_of(tmp_path, text))
    assert problem.line == 5
    assert "two documents are named `a` (first at line 1)" in problem.message


def test_trailing_document_separator_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", "steps:\n  - {name: a, command: x}\n---\n")
    assert len(load_all(path)) == 1


def test_load_text_without_a_path_needs_a_name() -> None:
    with pytest.raises(SpecError) as info:
        load_text("steps:\n  - {name: a, command: x}\n")
    problem = only(info.value.problems)
    assert problem.file == "<text>"
    assert "needs a `name`" in problem.message
    workflow = load_text("name: w\nsteps:\n  - {name: a, command: x}\n")
    assert workflow.source is None


def test_empty_file_and_non_mapping_document(tmp_path: Path) -> None:
    assert "no workflow" in only(problems_of(tmp_path, "")).message
    problem = only(problems_of(tmp_path, "- a\n- b\n"))
    assert problem.line == 1
    assert "must be a mapping" in problem.message


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not found"):
        load_file(tmp_path / "nope.yaml")


def test_anchors_aliases_and_merge_keys() -> None:
    workflow = load_text(
        textwrap.dedent(
            """\
            name: w
            env: &common
              - REGION: eu
            steps:
              - &base
                name: a
                command: echo a
                retryPolicy: {limit: 2}
              - <<: *base
                name: b
                command: echo b
            """
        )
    )
    assert workflow.env == (("REGION", "eu"),)
    a, b = workflow.steps
    assert b.name == "b"
    assert b.command == "echo b"
    assert b.retry_policy == a.retry_policy
    assert b.retry_policy is not None and b.retry_policy.limit == 2


def test_merge_key_override_is_not_a_duplicate() -> None:
    text = "name: w\nsteps:\n  - &s {name: a, command: x}\n  - <<: [*s]\n    name: b\n"
    assert [s.name for s in load_text(text).steps] == ["a", "b"]


def test_recursive_alias_is_a_problem_not_a_crash() -> None:
    with pytest.raises(SpecError) as info:
        load_text("name: w\nsteps: &s\n  - *s\n")
    assert any("refers to itself" in p.message for p in info.value.problems)


def test_scalars_keep_the_text_written() -> None:
    text = (
        "name: w\nparams:\n  - VERSION: 1.10\n  - FLAG: yes\n  - EMPTY:\n"
        "steps:\n  - {name: a, command: x}\n"
    )
    params = load_text(text).params
    assert [(p.name, p.value) for p in params] == [
        ("VERSION", "1.10"),
        ("FLAG", "yes"),
        ("EMPTY", ""),
    ]


def test_json_text_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "j.json", '{"name": "j", "steps": [{"name": "a", "command": "x"}]}')
    assert load_file(path).steps[0].command == "x"


# --- children -------------------------------------------------------------------------------


def test_resolve_child_finds_a_document_of_the_same_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        "steps:\n  - {name: a, run: kid}\n---\nname: kid\nsteps:\n  - {name: b, command: x}\n",
    )
    parent = load_file(path)
    assert resolve_child(parent, "kid", None).name == "kid"


def test_resolve_child_relative_then_dags_dir_with_suffixes(tmp_path: Path) -> None:
    parent_path = write(
        tmp_path, "proj/main.yaml", "steps:\n  - {name: a, run: workflows/extract}\n"
    )
    write(tmp_path, "proj/workflows/extract.yaml", "steps:\n  - {name: e, command: x}\n")
    write(tmp_path, "dags/ci/build.yml", "steps:\n  - {name: b, command: x}\n")
    parent = load_file(parent_path)
    assert resolve_child(parent, "workflows/extract", None).name == "extract"
    assert resolve_child(parent, "workflows/extract.yaml", None).name == "extract"
    assert resolve_child(parent, "ci/build", str(tmp_path / "dags")).name == "build"


def test_resolve_child_not_found_names_every_place(tmp_path: Path) -> None:
    parent = load_file(write(tmp_path, "main.yaml", "steps:\n  - {name: a, run: nope}\n"))
    with pytest.raises(NotFoundError) as info:
        resolve_child(parent, "nope", str(tmp_path / "dags"))
    message = str(info.value)
    assert "`nope`" in message
    assert "the documents of" in message
    for place in ("nope", "nope.yaml", "nope.yml"):
        assert os.path.join(str(tmp_path), place) in message
        assert os.path.join(str(tmp_path / "dags"), place) in message


def test_resolve_child_loads_a_file_once_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = load_file(write(tmp_path, "main.yaml", "steps:\n  - {name: a, run: kid}\n"))
    kid = write(tmp_path, "kid.yaml", "steps:\n  - {name: b, command: x}\n")
    calls: list[str] = []
    real = spec_loader.load_all
    monkeypatch.setattr(spec_loader, "load_all", lambda p: calls.append(str(p)) or real(p))
    first = [resolve_child(parent, "kid", None) for _ in range(1000)]
    assert len(calls) == 1
    assert all(w is first[0] for w in first)
    kid.write_text("steps:\n  - {name: changed, command: x}\n")
    os.utime(kid, ns=(1, 1))
    assert resolve_child(parent, "kid", None).steps[0].name == "changed"
    assert len(calls) == 2


def test_validate_children_reports_missing_and_broken_children(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "steps:\n  - name: b\n    command: x\n    timeoutSec: abc\n")
    parent = load_file(
        write(
            tmp_path,
            "main.yaml",
            "steps:\n  - {name: a, run: missing}\n  - {name: b, run: broken}\n"
            "  - {name: c, run: '${X}'}\n",
        )
    )
    problems = validate_children(parent, None)
    assert len(problems) == 2, problems
    missing = next(p for p in problems if p.file.endswith("main.yaml"))
    assert (missing.line, missing.field) == (2, "steps[0].run")
    assert "step `a`: child workflow `missing` not found" in missing.message
    broken = next(p for p in problems if p.file.endswith("broken.yaml"))
    assert (broken.line, broken.field) == (4, "steps[0].timeoutSec")


def test_validate_children_detects_static_recursion(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "steps:\n  - name: back\n    run: a\n")
    parent = load_file(write(tmp_path, "a.yaml", "steps:\n  - name: go\n    run: b\n"))
    problem = only(validate_children(parent, None))
    assert problem.file.endswith("b.yaml")
    assert (problem.line, problem.field) == (2, "steps[0].run")
    assert problem.message == "workflow `a` runs itself: a -> b -> a"


def test_validate_children_detects_a_document_running_itself(tmp_path: Path) -> None:
    parent = load_file(write(tmp_path, "self.yaml", "steps:\n  - {name: go, run: self}\n"))
    assert "runs itself: self -> self" in only(validate_children(parent, None)).message


def test_validate_children_clean_tree(tmp_path: Path) -> None:
    write(tmp_path, "dags/leaf.yaml", "steps:\n  - {name: l, command: x}\n")
    text = "steps:\n  - {name: a, run: mid}\n---\nname: mid\nsteps:\n  - {name: m, run: leaf}\n"
    parent = load_file(write(tmp_path, "root.yaml", text))
    assert validate_children(parent, str(tmp_path / "dags")) == []


# --- base config ----------------------------------------------------------------------------


def test_base_file_has_workflow_fields_and_no_steps(tmp_path: Path) -> None:
    path = write(tmp_path, "base.yaml", "env:\n  - REGION: eu\nparams: A=1\nshell: bash\n")
    base = load_base_file(path)
    assert (base.name, base.steps, base.shell) == ("base", (), "bash")
    assert base.env == (("REGION", "eu"),)
    assert [(p.name, p.value) for p in base.params] == [("A", "1")]
    assert load_base_file(write(tmp_path, "empty.yaml", "")).steps == ()


def test_base_file_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "base.yaml", "env: 5\nsteps:\n  - {name: a, command: x}\n")
    with pytest.raises(SpecError) as info:
        load_base_file(path)
    assert [(p.line, p.field) for p in info.value.problems] == [(1, "env"), (2, "steps")]
    assert "cannot have steps" in info.value.problems[1].message
