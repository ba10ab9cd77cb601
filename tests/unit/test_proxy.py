import pytest

from metallb_plugin.connection import bypass_proxy, env_proxy


@pytest.mark.parametrize(
    "host, no_proxy, bypass",
    [
        ("api.example.com", "", False),
        ("api.example.com", "*", True),
        ("api.example.com", "example.com", True),
        ("api.example.com", ".example.com", True),
        ("example.com", "example.com", True),
        ("badexample.com", "example.com", False),
        ("10.1.2.3", "10.0.0.0/8", True),
        ("10.1.2.3", "192.168.0.0/16,10.1.2.3", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("api.example.com", "10.0.0.0/8, other.org", False),
        ("127.0.0.1", "localhost,127.0.0.1", True),
        ("api.example.com", "api.example.com:6443", True),
    ],
)
def test_bypass(host, no_proxy, bypass):
    assert bypass_proxy(host, no_proxy) is bypass


def test_env_proxy_honours_both_spellings():
    assert env_proxy("https://api.example.com:6443", {"HTTPS_PROXY": "http://proxy:3128"}) == "http://proxy:3128"
    assert env_proxy("https://api.example.com:6443", {"https_proxy": "http://p:1", "NO_PROXY": "example.com"}) is None
    assert env_proxy("https://api.example.com:6443", {}) is None
