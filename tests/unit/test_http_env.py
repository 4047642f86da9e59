"""Network settings are read from the environment once, and proxies keep working."""

from __future__ import annotations

import pytest

from photo_core.adapters.http_env import NetworkEnv


def test_without_a_proxy_clients_stop_reading_the_environment_per_request() -> None:
    env = NetworkEnv.read({"PATH": "/bin", "PhotoStorage": "UseDevelopmentStorage=true"})
    assert env == NetworkEnv(proxied=False, ca_bundle=None)
    assert env.trust_env is False
    assert env.sdk_options() == {"use_env_settings": False}


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY",
                                      "no_proxy", "NO_PROXY"])
def test_any_proxy_variable_leaves_requests_reading_the_environment(variable: str) -> None:
    env = NetworkEnv.read({variable: "http://proxy.contoso.com:3128"})
    assert env.proxied and env.trust_env
    assert env.sdk_options() == {}  # the SDK's defaults: NO_PROXY and friends keep working


def test_an_empty_proxy_variable_is_no_proxy() -> None:
    assert NetworkEnv.read({"HTTPS_PROXY": ""}).proxied is False


def test_the_ca_bundle_requests_would_have_used_is_passed_explicitly() -> None:
    env = NetworkEnv.read({"CURL_CA_BUNDLE": "/etc/curl.pem", "REQUESTS_CA_BUNDLE": "/etc/r.pem"})
    assert env.ca_bundle == "/etc/r.pem"  # requests prefers REQUESTS_CA_BUNDLE
    assert env.sdk_options() == {"use_env_settings": False, "connection_verify": "/etc/r.pem"}
    assert NetworkEnv.read({"CURL_CA_BUNDLE": "/etc/curl.pem"}).ca_bundle == "/etc/curl.pem"
