import pytest

from metallb_plugin import errors
from metallb_plugin.connection import bypass_proxy, parse_proxy, proxy_for


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


def proxy(server, environ, proxy_url=None):
    found = proxy_for(server, proxy_url, environ)
    return None if found is None else str(found)


def test_env_proxy_honours_both_spellings():
    assert proxy("https://api.example.com:6443", {"HTTPS_PROXY": "http://proxy:3128"}) == "http://proxy:3128"
    assert proxy("https://api.example.com:6443", {"https_proxy": "http://p:1", "NO_PROXY": "example.com"}) is None
    assert proxy("https://api.example.com:6443", {}) is None


def test_env_proxy_by_the_servers_scheme_and_never_for_loopback():
    env = {"HTTPS_PROXY": "http://secure:1", "HTTP_PROXY": "http://plain:2"}
    assert proxy("https://api.example.com", env) == "http://secure:1"
    assert proxy("http://api.example.com", env) == "http://plain:2"
    for loopback in ("https://localhost:6443", "https://127.0.0.1:6443", "https://[::1]:6443"):
        assert proxy(loopback, env) is None  # as Go's (and so kubectl's) proxy rules
    assert proxy("https://api.example.com", {"HTTPS_PROXY": "proxy.corp:3128"}) == "http://proxy.corp:3128"


def test_proxy_url_wins_and_applies_to_loopback_too():
    assert proxy("https://127.0.0.1:6443", {"HTTPS_PROXY": "http://env:1"}, "socks5://bastion:1080") == (
        "socks5://bastion:1080"
    )


@pytest.mark.parametrize(
    "url, shown, user, password",
    [
        ("http://u:p@proxy:3128", "http://proxy:3128", "u", "p"),
        ("https://proxy.corp", "https://proxy.corp:443", None, None),
        ("socks5://bastion", "socks5://bastion:1080", None, None),
        ("socks5h://jo%40corp:s%3Acret@[2001:db8::1]:1080", "socks5://[2001:db8::1]:1080", "jo@corp", "s:cret"),
    ],
)
def test_parse_proxy(url, shown, user, password):
    found = parse_proxy(url, "proxy-url")
    assert (str(found), found.username, found.password) == (shown, user, password)


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://u:hunter2@proxy:21", "uses ftp://; kubectl and this plugin support http://, https:// and socks5://"),
        ("socks4://u:hunter2@proxy", "uses socks4://"),
        ("http://u:hunter2@proxy:99999", "has an invalid port"),
        ("http://u:hunter2@:3128", "has no host"),
    ],
)
def test_bad_proxies_are_refused_without_their_password(url, message):
    with pytest.raises(errors.ClusterError) as caught:
        parse_proxy(url, "HTTPS_PROXY")
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)
