"""The masker: secrets replaced whole, longest first, in text and in streams cut anywhere."""

from __future__ import annotations

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from plait.model.secret import MASK, Masker, is_secret_name, secrets_by_name

SECRETS = ["hunter2hunter2", "abc", "abcdef", "ünïcødé-sëcret"]


def test_longest_secret_is_masked_whole() -> None:
    masker = Masker(SECRETS)
    assert masker.text("x abcdef y abc z") == f"x {MASK} y {MASK} z"
    assert masker.text("no secrets here") == "no secrets here"


def test_empty_values_mask_nothing() -> None:
    assert not Masker(["", ""])
    assert Masker([""]).text("anything") == "anything"


def test_naming_rule() -> None:
    for name in ("API_TOKEN", "db_password", "AWS_SECRET", "SERVICE_KEY", "TOKEN", "secret"):
        assert is_secret_name(name), name
    for name in ("KEY", "TOKENS", "MONKEY", "PATH", "KEYBOARD", "PASSWORD_HINT_X"):
        assert not is_secret_name(name), name
    assert secrets_by_name({"USE_KEY": "1", "API_TOKEN": "long-enough", "HOME": "/root"}) == [
        "long-enough"
    ]


@seed(20261201)
@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.one_of(st.sampled_from(SECRETS), st.text(max_size=12)), min_size=0, max_size=20
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_a_stream_cut_anywhere_is_masked_like_the_whole(parts: list[str], cuts: list[int]) -> None:
    masker = Masker(SECRETS)
    data = "".join(parts).encode()
    stream = masker.stream()
    out = []
    position = 0
    for cut in sorted(set(min(c, len(data)) for c in cuts)):
        out.append(stream.feed(data[position:cut]))
        position = cut
    out.append(stream.feed(data[position:]))
    out.append(stream.flush())
    assert b"".join(out) == masker.data(data)
    for secret in SECRETS:
        assert secret.encode() not in b"".join(out)


def test_one_byte_at_a_time() -> None:
    masker = Masker(["s3cr3t-value"])
    stream = masker.stream()
    data = b"before s3cr3t-value after s3cr3t-valu"
    out = b"".join(stream.feed(data[i : i + 1]) for i in range(len(data))) + stream.flush()
    assert out == f"before {MASK} after s3cr3t-valu".encode()
