import pytest

from metallb_plugin.core.duration import format_duration, parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("0", 0),
        ("30", 30),
        ("2.5", 2.5),
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1m30s", 90),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        (" 10s ", 10),
    ],
)
def test_valid(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "5x", "-5s", "5 m", "m5", "1h-2m", "five", "5s5"])
def test_invalid(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["1ns", "1us", "-5s", "+5s"])
def test_go_only_forms_are_not_flag_durations(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "seconds, go, short",
    [
        (0, "0s", "0s"),
        (30, "30s", "30s"),
        (90, "1m30s", "1m30s"),
        (120, "2m0s", "2m"),
        (600, "10m0s", "10m"),
        (3600, "1h0m0s", "1h"),
        (5430, "1h30m30s", "1h30m30s"),
        (-90, "-1m30s", "-1m30s"),
    ],
)
def test_format(seconds, go, short):
    assert format_duration(seconds) == go
    assert format_duration(seconds, short=True) == short
    assert parse_duration(go, go=True) == seconds
