import pytest

from metallb_plugin.core.duration import parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("0", 0), ("30", 30), ("2.5", 2.5), ("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400),
    ("1m30s", 90), ("500ms", 0.5), ("1.5s", 1.5), (" 10s ", 10),
])
def test_valid(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "5x", "-5s", "5 m", "m5", "1h-2m", "five", "5s5"])
def test_invalid(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
