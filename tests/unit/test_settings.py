"""What a Client takes from the selected kubeconfig user and cluster (connection.client_settings)."""

import base64
import os
import pathlib
import stat

import pytest

from metallb_plugin import connection, errors
from metallb_plugin.core.kubeconfig import Selection


def _selection(cluster=None, user=None, server="https://203.0.113.10:6443"):
    return Selection("c", "c", {"server": server, **(cluster or {})}, "u", user or {})


def test_a_token_is_sent_as_a_bearer_token_and_the_server_loses_its_trailing_slash():
    settings = connection.client_settings(_selection(user={"token": "abc"}, server="https://203.0.113.10:6443/"))
    assert settings.host == "https://203.0.113.10:6443"
    assert settings.authorization == "Bearer abc"
    assert settings.verify_ssl and settings.ssl_ca_cert is None and settings.cert_file is None


def test_a_token_file_is_read_without_its_trailing_newline(tmp_path):
    token = tmp_path / "token"
    token.write_text("from-file\n")
    settings = connection.client_settings(_selection(user={"tokenFile": str(token)}))
    assert settings.authorization == "Bearer from-file"


def test_basic_auth_is_sent_as_utf8():
    settings = connection.client_settings(_selection(user={"username": "jürgen", "password": "pw"}))
    assert settings.authorization == "Basic " + base64.b64encode("jürgen:pw".encode()).decode()


def test_certificate_data_goes_to_private_files_and_files_are_used_as_they_are(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("CA")
    user = {"client-certificate-data": base64.b64encode(b"CERT").decode(), "client-key": str(tmp_path / "k")}
    (tmp_path / "k").write_text("KEY")
    settings = connection.client_settings(
        _selection(cluster={"certificate-authority": str(ca), "tls-server-name": "api.example"}, user=user)
    )
    assert settings.ssl_ca_cert == str(ca)
    assert settings.key_file == str(tmp_path / "k")
    assert settings.tls_server_name == "api.example"
    assert pathlib.Path(settings.cert_file).read_bytes() == b"CERT"
    assert stat.S_IMODE(os.stat(settings.cert_file).st_mode) == 0o600


def test_an_http_server_gets_no_certificates_and_insecure_turns_verification_off(tmp_path):
    user = {"client-certificate": str(tmp_path / "missing")}
    settings = connection.client_settings(
        _selection(cluster={"insecure-skip-tls-verify": True}, user=user, server="http://203.0.113.10:8080")
    )
    assert settings.cert_file is None and not settings.verify_ssl


def test_a_missing_certificate_file_is_named():
    with pytest.raises(errors.ClusterError, match=r'kubeconfig user "u": cannot read /nonexistent/ca'):
        connection.client_settings(_selection(cluster={"certificate-authority": "/nonexistent/ca"}))
