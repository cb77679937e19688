"""Step control on real processes: preconditions, continueOn, retryPolicy and repeatPolicy.

Counters live in files of the test's folder (the workflow's working directory), so each attempt
or iteration leaves a trace that the assertions can read back.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from plait.app import open_store
from plait.store import Home

# A shell snippet: add one to ./count and print the new value as `n=N` (exported as $n).
COUNT = 'n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo "$n" > count; export n'


def status_json(cli, target: str, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("status", target, "--json", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def steps_by_name(record: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {step["name"]: step for step in record["steps"]}


def times(path: Path) -> list[float]:
    return [float(line) for line in path.read_text().split()]


def gaps(values: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(values)]


STAMP = "date +%s.%N >> stamps"


# ---------------------------------------------------------------------- preconditions


def test_step_preconditions_in_every_form(cli, write, tmp_path: Path) -> None:
    write(
        "pc.yaml",
        """
        name: pc
        type: graph
        params:
          - ENVN: prod
        steps:
          - name: backtick_match
            command: touch ran-backtick_match
            preconditions:
              - condition: "`echo x`"
                expected: "x"
          - name: backtick_mismatch
            command: touch ran-backtick_mismatch
            preconditions:
              - condition: "`echo y`"
                expected: "x"
          - name: var_regex_match
            command: touch ran-var_regex_match
            preconditions:
              - condition: "${ENVN}"
                expected: "re:pr.*"
          - name: var_regex_mismatch
            command: touch ran-var_regex_mismatch
            preconditions:
              - condition: "${ENVN}"
                expected: "re:^dev"
          - name: expected_expanded
            command: touch ran-expected_expanded
            preconditions:
              - condition: "prod-1"
                expected: "${ENVN}-`echo 1`"
          - name: command_ok
            command: touch ran-command_ok
            preconditions:
              - condition: "test -d /tmp"
          - name: command_fails
            command: touch ran-command_fails
            preconditions:
              - condition: "test -d /nonexistent"
          - name: command_with_var
            command: touch ran-command_with_var
            preconditions:
              - condition: test "${ENVN}" = prod && test "`echo ok`" = ok
          - name: string_ok
            command: touch ran-string_ok
            preconditions: "test -d /tmp"
          - name: string_fails
            command: touch ran-string_fails
            preconditions: "test -d /nonexistent"
          - name: singular_key
            command: touch ran-singular_key
            precondition: "false"
          - name: all_must_hold
            command: touch ran-all_must_hold
            preconditions:
              - condition: "true"
              - condition: "`echo a`"
                expected: "b"
    """,
    )
    result = cli("start", "pc.yaml")
    assert result.code == 0, result.out + result.err
    record = status_json(cli, "pc")
    assert record["status"] == "succeeded"
    ran = {"backtick_match", "var_regex_match", "expected_expanded", "command_ok"}
    ran |= {"command_with_var", "string_ok"}
    for name, step in steps_by_name(record).items():
        expected = "succeeded" if name in ran else "skipped"
        assert step["status"] == expected, (name, step)
        assert (tmp_path / f"ran-{name}").exists() == (name in ran), name


def test_skipped_step_skips_dependents_unless_continue_on_skipped(cli, write, tmp_path) -> None:
    write(
        "sk.yaml",
        """
        name: sk
        type: graph
        steps:
          - name: gate
            command: "true"
            preconditions: "false"
          - name: after_gate
            command: touch ran-after_gate
            depends: gate
          - name: after_after
            command: touch ran-after_after
            depends: after_gate
          - name: tolerant_gate
            command: "true"
            preconditions: "false"
            continueOn:
              skipped: true
          - name: after_tolerant
            command: touch ran-after_tolerant
            depends: tolerant_gate
          - name: shorthand_gate
            command: "true"
            preconditions: "false"
            continueOn: skipped
          - name: after_shorthand
            command: touch ran-after_shorthand
            depends: shorthand_gate
    """,
    )
    result = cli("start", "sk.yaml")
    assert result.code == 0, result.out + result.err
    record = status_json(cli, "sk")
    assert record["status"] == "succeeded"
    steps = steps_by_name(record)
    for name in ("gate", "after_gate", "after_after", "tolerant_gate", "shorthand_gate"):
        assert steps[name]["status"] == "skipped", name
    assert steps["after_tolerant"]["status"] == "succeeded"
    assert steps["after_shorthand"]["status"] == "succeeded"
    assert not (tmp_path / "ran-after_gate").exists()
    assert not (tmp_path / "ran-after_after").exists()
    assert (tmp_path / "ran-after_tolerant").exists()


def test_unmet_workflow_precondition_skips_the_run_with_exit_code_4(cli, write, tmp_path) -> None:
    write(
        "wp.yaml",
        """
        name: wp
        params:
          - WANT: "yes"
        preconditions:
          - condition: "`echo no`"
            expected: "${WANT}"
        steps:
          - name: a
            command: touch ran-a
          - name: b
            command: touch ran-b
    """,
    )
    result = cli("start", "wp.yaml")
    assert result.code == 4, result.out + result.err
    record = status_json(cli, "wp")
    assert record["status"] == "skipped"
    for step in record["steps"]:
        assert step["status"] in ("skipped", "not_started")
    assert not (tmp_path / "ran-a").exists()
    assert not (tmp_path / "ran-b").exists()


def test_unmet_workflow_precondition_still_runs_on_exit(cli, write, tmp_path: Path) -> None:
    write(
        "wpx.yaml",
        """
        name: wpx
        preconditions: "test -f /nonexistent"
        steps:
          - name: a
            command: touch ran-a
        handlerOn:
          success:
            command: touch ran-success
          exit:
            command: echo "$DAG_RUN_STATUS" > exit-status
    """,
    )
    assert cli("start", "wpx.yaml").code == 4
    assert not (tmp_path / "ran-success").exists()
    assert (tmp_path / "exit-status").read_text().strip() == "skipped"
    handlers = [s for s in status_json(cli, "wpx")["steps"] if s.get("handler")]
    assert [(h["name"], h["status"]) for h in handlers] == [("onExit", "succeeded")]


def test_met_workflow_precondition_runs_normally(cli, write) -> None:
    write(
        "wpm.yaml",
        """
        name: wpm
        params:
          - ENVN: prod
        preconditions:
          - condition: test "${ENVN}" = prod
          - condition: "${ENVN}"
            expected: "re:^pro"
        steps:
          - name: a
            command: echo ok
    """,
    )
    assert cli("start", "wpm.yaml").code == 0
    assert status_json(cli, "wpm")["status"] == "succeeded"


# ---------------------------------------------------------------------- continueOn


def test_continue_on_failure_runs_dependents_and_ends_partially_succeeded(
    cli, write, tmp_path: Path
) -> None:
    write(
        "cf.yaml",
        """
        name: cf
        steps:
          - name: f
            command: exit 1
            continueOn:
              failure: true
          - name: next
            command: touch ran-next
    """,
    )
    result = cli("start", "cf.yaml")
    assert result.code == 3, result.out + result.err
    record = status_json(cli, "cf")
    assert record["status"] == "partially_succeeded"
    steps = steps_by_name(record)
    assert steps["f"]["status"] == "failed"
    assert steps["f"]["exitCode"] == 1
    assert steps["next"]["status"] == "succeeded"
    assert (tmp_path / "ran-next").exists()


@pytest.mark.parametrize("word", ["failed", "FAILED", "failure"])
def test_continue_on_shorthand_failed(cli, write, word: str) -> None:
    write(
        "cs.yaml",
        f"""
        name: cs
        steps:
          - name: f
            command: exit 2
            continueOn: {word}
          - name: next
            command: "true"
    """,
    )
    assert cli("start", "cs.yaml").code == 3
    steps = steps_by_name(status_json(cli, "cs"))
    assert steps["f"]["status"] == "failed"
    assert steps["next"]["status"] == "succeeded"


def test_tolerated_and_untolerated_failures_make_the_run_failed(cli, write) -> None:
    write(
        "mix.yaml",
        """
        name: mix
        type: graph
        steps:
          - name: tolerated
            command: exit 1
            continueOn: {failure: true}
          - name: after
            command: "true"
            depends: tolerated
          - name: fatal
            command: exit 1
    """,
    )
    assert cli("start", "mix.yaml").code == 1
    record = status_json(cli, "mix")
    assert record["status"] == "failed"
    assert steps_by_name(record)["after"]["status"] == "succeeded"


@pytest.mark.parametrize(("code", "continues"), [(3, True), (4, False)])
def test_continue_on_exit_code_list(cli, write, tmp_path, code: int, continues: bool) -> None:
    write(
        "ce.yaml",
        f"""
        name: ce
        steps:
          - name: f
            command: exit {code}
            continueOn:
              exitCode: [1, 3]
          - name: next
            command: touch ran-next
    """,
    )
    result = cli("start", "ce.yaml")
    record = status_json(cli, "ce")
    steps = steps_by_name(record)
    assert steps["f"]["status"] == "failed"
    assert steps["f"]["exitCode"] == code
    if continues:
        assert result.code == 3
        assert record["status"] == "partially_succeeded"
        assert steps["next"]["status"] == "succeeded"
    else:
        assert result.code == 1
        assert record["status"] == "failed"
        assert steps["next"]["status"] == "upstream_failed"
    assert (tmp_path / "ran-next").exists() == continues


@pytest.mark.parametrize(
    ("command", "patterns", "continues"),
    [
        ("echo 'some text here'; exit 1", '["xt he"]', True),
        ("echo 'WARNING thing'; exit 1", '["re:^WARN.*"]', True),
        ("printf 'line1\\nline2\\nline3\\n'; exit 1", '["re:^line2$"]', True),
        ("printf 'line1\\nline2\\n'; exit 1", '["nomatch", "re:^ine"]', False),
        ("echo 'WARNING on stderr' >&2; exit 1", '["WARNING"]', False),
    ],
    ids=["substring", "regex", "regex-per-line", "no-match", "stderr-not-checked"],
)
def test_continue_on_output(cli, write, command: str, patterns: str, continues: bool) -> None:
    write(
        "co.yaml",
        f"""
        name: co
        steps:
          - name: f
            shell: bash
            command: {json.dumps(command)}
            continueOn:
              output: {patterns}
          - name: next
            command: "true"
    """,
    )
    result = cli("start", "co.yaml")
    record = status_json(cli, "co")
    steps = steps_by_name(record)
    assert steps["f"]["status"] == "failed"
    assert steps["next"]["status"] == ("succeeded" if continues else "upstream_failed")
    assert record["status"] == ("partially_succeeded" if continues else "failed")
    assert result.code == (3 if continues else 1)


def test_continue_on_mark_success(cli, write) -> None:
    write(
        "ms.yaml",
        """
        name: ms
        steps:
          - name: f
            command: exit 1
            continueOn:
              failure: true
              markSuccess: true
          - name: next
            command: "true"
    """,
    )
    result = cli("start", "ms.yaml")
    assert result.code == 0, result.out + result.err
    record = status_json(cli, "ms")
    assert record["status"] == "succeeded"
    steps = steps_by_name(record)
    assert steps["f"]["status"] == "succeeded"
    assert steps["f"]["exitCode"] == 1
    assert steps["next"]["status"] == "succeeded"


def test_failing_step_output_and_exit_code_reach_later_steps(cli, write) -> None:
    write(
        "fo.yaml",
        """
        name: fo
        steps:
          - name: bad
            id: bad
            command: echo out-before-fail; exit 9
            output: FAILOUT
            continueOn:
              failure: true
          - name: use
            command: echo "${FAILOUT}|${bad.exit_code}|$FAILOUT"
            output: R
    """,
    )
    assert cli("start", "fo.yaml").code == 3
    record = status_json(cli, "fo")
    steps = steps_by_name(record)
    assert steps["bad"]["status"] == "failed"
    assert steps["bad"]["exitCode"] == 9
    assert steps["bad"]["output"] == "out-before-fail"
    assert record["outputs"] == {
        "FAILOUT": "out-before-fail",
        "R": "out-before-fail|9|out-before-fail",
    }


def test_succeeded_step_exit_code_reference_is_zero(cli, write) -> None:
    write(
        "ez.yaml",
        """
        name: ez
        steps:
          - name: good
            id: g
            command: "true"
          - name: use
            command: echo "code=${g.exit_code}"
            output: R
    """,
    )
    assert cli("start", "ez.yaml").code == 0
    assert status_json(cli, "ez")["outputs"]["R"] == "code=0"


# ---------------------------------------------------------------------- retryPolicy


def test_retry_until_success_with_one_log_per_attempt(cli, write) -> None:
    write(
        "rt.yaml",
        f"""
        name: rt
        steps:
          - name: flaky
            command: {COUNT}; echo "attempt-$n"; echo "err-$n" >&2; test "$n" -ge 3
            retryPolicy:
              limit: 5
    """,
    )
    result = cli("start", "rt.yaml")
    assert result.code == 0, result.out + result.err
    step = steps_by_name(status_json(cli, "rt"))["flaky"]
    assert step["status"] == "succeeded"
    assert step["attempt"] == 3
    assert step["exitCode"] == 0
    for attempt in (1, 2, 3):
        out = cli("logs", "rt", "--step", "flaky", "--attempt", str(attempt))
        assert out.code == 0, out.err
        assert out.out == f"attempt-{attempt}\n"
        err = cli("logs", "rt", "--step", "flaky", "--attempt", str(attempt), "--stderr")
        assert err.out == f"err-{attempt}\n"
    assert cli("logs", "rt", "--step", "flaky").out == "attempt-3\n"
    assert cli("logs", "rt", "--step", "flaky", "--attempt", "4").code != 0


def test_retry_limit_exhausted_leaves_the_step_failed(cli, write, tmp_path: Path) -> None:
    write(
        "rx.yaml",
        f"""
        name: rx
        steps:
          - name: always
            command: {COUNT}; exit 2
            retryPolicy:
              limit: 2
    """,
    )
    assert cli("start", "rx.yaml").code == 1
    step = steps_by_name(status_json(cli, "rx"))["always"]
    assert step["status"] == "failed"
    assert step["attempt"] == 3
    assert step["exitCode"] == 2
    assert (tmp_path / "count").read_text().strip() == "3"


def test_earlier_attempts_are_recorded_with_their_outcome(cli, write, home: Path) -> None:
    write(
        "ra.yaml",
        f"""
        name: ra
        steps:
          - name: flaky
            command: {COUNT}; test "$n" -ge 2 || exit 5
            retryPolicy:
              limit: 2
              intervalSec: 0.2
    """,
    )
    assert cli("start", "ra.yaml").code == 0
    run_id = status_json(cli, "ra")["runId"]
    store = open_store(Home.from_env())
    try:
        first = next(a for a in store.attempts(run_id, "flaky") if a.attempt == 1)
    finally:
        store.close()
    assert first.status == "failed"
    assert first.exit_code == 5
    assert first.finished_at is not None and first.started_at is not None
    assert first.finished_at >= first.started_at


def test_retry_interval_separates_attempts(cli, write, tmp_path: Path) -> None:
    write(
        "ri.yaml",
        f"""
        name: ri
        steps:
          - name: flaky
            command: {STAMP}; exit 1
            retryPolicy:
              limit: 2
              intervalSec: 0.3
    """,
    )
    assert cli("start", "ri.yaml").code == 1
    stamps = times(tmp_path / "stamps")
    assert len(stamps) == 3
    assert all(gap >= 0.3 for gap in gaps(stamps)), gaps(stamps)
    step = steps_by_name(status_json(cli, "ri"))["flaky"]
    assert step["attempt"] == 3


@pytest.mark.parametrize(("code", "attempts"), [(3, 3), (4, 1)])
def test_retry_only_on_listed_exit_codes(cli, write, tmp_path, code: int, attempts: int) -> None:
    write(
        "rc.yaml",
        f"""
        name: rc
        steps:
          - name: f
            command: {COUNT}; exit {code}
            retryPolicy:
              limit: 2
              exitCode: [3]
    """,
    )
    assert cli("start", "rc.yaml").code == 1
    step = steps_by_name(status_json(cli, "rc"))["f"]
    assert step["status"] == "failed"
    assert step["exitCode"] == code
    assert step["attempt"] == attempts
    assert (tmp_path / "count").read_text().strip() == str(attempts)


def test_retry_backoff_grows_the_interval_up_to_the_maximum(cli, write, tmp_path: Path) -> None:
    # intervals: 0.05, 0.05*4 = 0.2, then 0.8 capped to 0.3
    write(
        "rb.yaml",
        f"""
        name: rb
        steps:
          - name: f
            command: {STAMP}; exit 1
            retryPolicy:
              limit: 3
              intervalSec: 0.05
              backoff: 4
              maxIntervalSec: 0.3
    """,
    )
    assert cli("start", "rb.yaml").code == 1
    stamps = times(tmp_path / "stamps")
    assert len(stamps) == 4
    first, second, third = gaps(stamps)
    assert first >= 0.05
    assert second >= 0.2
    assert 0.3 <= third < 0.8, "maxIntervalSec did not cap the interval (0.8 uncapped)"
    assert first < second


# ---------------------------------------------------------------------- repeatPolicy


def test_repeat_true_with_limit_runs_that_many_times(cli, write, tmp_path: Path) -> None:
    write(
        "rp.yaml",
        f"""
        name: rp
        steps:
          - name: r
            command: {COUNT}; {STAMP}; echo "n=$n"
            output: N
            repeatPolicy:
              repeat: true
              limit: 3
              intervalSec: 0.2
    """,
    )
    assert cli("start", "rp.yaml").code == 0
    assert (tmp_path / "count").read_text().strip() == "3"
    assert all(gap >= 0.2 for gap in gaps(times(tmp_path / "stamps")))
    record = status_json(cli, "rp")
    assert steps_by_name(record)["r"]["status"] == "succeeded"
    assert record["outputs"] == {"N": "n=3"}  # the last iteration's output


def test_repeat_true_stops_at_the_first_failure(cli, write, tmp_path: Path) -> None:
    write(
        "rf.yaml",
        f"""
        name: rf
        steps:
          - name: r
            command: {COUNT}; exit 1
            repeatPolicy:
              repeat: true
              limit: 5
    """,
    )
    assert cli("start", "rf.yaml").code == 1
    assert (tmp_path / "count").read_text().strip() == "1"
    assert steps_by_name(status_json(cli, "rf"))["r"]["status"] == "failed"


def test_repeat_while_condition_matches_expected(cli, write, tmp_path: Path) -> None:
    write(
        "rw.yaml",
        f"""
        name: rw
        steps:
          - name: r
            command: {COUNT}
            repeatPolicy:
              repeat: while
              condition: "`cat count`"
              expected: "re:^[12]$"
              limit: 10
    """,
    )
    assert cli("start", "rw.yaml").code == 0
    assert (tmp_path / "count").read_text().strip() == "3"


def test_repeat_while_command_condition(cli, write, tmp_path: Path) -> None:
    write(
        "rwc.yaml",
        f"""
        name: rwc
        steps:
          - name: r
            command: {COUNT}
            repeatPolicy:
              repeat: while
              condition: test "$(cat count)" -lt 3
              limit: 10
    """,
    )
    assert cli("start", "rwc.yaml").code == 0
    assert (tmp_path / "count").read_text().strip() == "3"


def test_repeat_condition_sees_the_output_of_the_current_iteration(
    cli, write, tmp_path: Path
) -> None:
    write(
        "ro.yaml",
        f"""
        name: ro
        steps:
          - name: r
            command: {COUNT}; echo "wr=$n"
            output: WR
            repeatPolicy:
              repeat: while
              condition: "${{WR}}"
              expected: "re:wr=[12]"
              limit: 10
    """,
    )
    assert cli("start", "ro.yaml").code == 0
    assert (tmp_path / "count").read_text().strip() == "3"
    assert status_json(cli, "ro")["outputs"] == {"WR": "wr=3"}


def test_repeat_until_condition(cli, write, tmp_path: Path) -> None:
    write(
        "ru.yaml",
        f"""
        name: ru
        steps:
          - name: r
            command: {COUNT}
            repeatPolicy:
              repeat: until
              condition: "`cat count`"
              expected: "3"
              limit: 10
    """,
    )
    assert cli("start", "ru.yaml").code == 0
    assert (tmp_path / "count").read_text().strip() == "3"
    assert steps_by_name(status_json(cli, "ru"))["r"]["status"] == "succeeded"


def test_repeat_while_exit_code(cli, write, tmp_path: Path) -> None:
    write(
        "rec.yaml",
        f"""
        name: rec
        steps:
          - name: r
            command: {COUNT}; if [ "$n" -lt 3 ]; then exit 7; fi
            repeatPolicy:
              repeat: while
              exitCode: [7]
              limit: 10
    """,
    )
    result = cli("start", "rec.yaml")
    assert result.code == 0, result.out + result.err
    assert (tmp_path / "count").read_text().strip() == "3"
    step = steps_by_name(status_json(cli, "rec"))["r"]
    assert step["status"] == "succeeded"
    assert step["exitCode"] == 0


def test_repeat_until_exit_code_ends_failed_on_that_code(cli, write, tmp_path: Path) -> None:
    write(
        "rue.yaml",
        f"""
        name: rue
        steps:
          - name: r
            command: {COUNT}; if [ "$n" -ge 2 ]; then exit 5; fi
            repeatPolicy:
              repeat: until
              exitCode: [5]
              limit: 10
    """,
    )
    assert cli("start", "rue.yaml").code == 1
    assert (tmp_path / "count").read_text().strip() == "2"
    step = steps_by_name(status_json(cli, "rue"))["r"]
    assert step["status"] == "failed"
    assert step["exitCode"] == 5


def test_repeat_backoff_grows_the_interval(cli, write, tmp_path: Path) -> None:
    write(
        "rbo.yaml",
        f"""
        name: rbo
        steps:
          - name: r
            command: {STAMP}
            repeatPolicy:
              repeat: true
              limit: 3
              intervalSec: 0.05
              backoff: 4
              maxIntervalSec: 0.25
    """,
    )
    assert cli("start", "rbo.yaml").code == 0
    first, second = gaps(times(tmp_path / "stamps"))
    assert first >= 0.05
    assert 0.2 <= second < 0.6


def test_a_tolerated_failure_is_recorded_as_tolerated_even_when_the_run_fails(cli, write) -> None:
    write(
        "tol.yaml",
        """
        name: tol
        type: graph
        steps:
          - name: tolerated
            command: exit 2
            continueOn:
              failure: true
          - name: fatal
            command: exit 3
          - name: marked
            command: exit 4
            continueOn:
              failure: true
              markSuccess: true
        """,
    )
    assert cli("start", "tol.yaml").code == 1
    record = json.loads(cli("status", "tol", "--json").out)
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["tolerated"]["status"] == "failed" and steps["tolerated"].get("tolerated")
    assert steps["fatal"]["status"] == "failed" and not steps["fatal"].get("tolerated")
    assert steps["marked"]["status"] == "succeeded" and not steps["marked"].get("tolerated")
