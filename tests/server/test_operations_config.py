"""The durability and access settings in `ServerConfig`: read from VERITAS_*, checked once."""

from __future__ import annotations

import pytest

from server.config import from_environment
from server.errors import ConfigError


def test_the_variables_reach_the_parts_they_configure() -> None:
    config = from_environment(
        {
            "VERITAS_STORE_BATCH_MS": "20",
            "VERITAS_STORE_BATCH_EVENTS": "64",
            "VERITAS_STORE_SYNCHRONOUS": "normal",
            "VERITAS_RETENTION_MAX_AUDITS": "0",
            "VERITAS_RETENTION_MAX_AGE_DAYS": "2",
            "VERITAS_API_TOKEN": "tok",
            "VERITAS_CORS_ORIGINS": "https://a.test, http://b.test:81",
            "VERITAS_LOG_FORMAT": "JSON",
        }
    )
    assert config.store.batch_interval == pytest.approx(0.02)
    assert config.store.batch_max_events == 64
    assert config.store.synchronous == "NORMAL"
    assert config.retention.max_audits is None
    assert config.retention.max_age_seconds == 2 * 86400
    assert config.api_token == "tok"
    assert "tok" not in repr(config)
    assert config.cors is not None
    assert config.cors.allowed("http://b.test:81") == "http://b.test:81"
    assert config.log_format == "json"


def test_defaults_keep_a_bounded_history_and_no_token() -> None:
    config = from_environment({})
    assert config.retention.max_audits == 10_000
    assert config.retention.max_age_seconds == 30 * 86400
    assert config.api_token is None
    assert config.cors is None


@pytest.mark.parametrize(
    "name,value",
    [
        ("VERITAS_CORS_ORIGINS", "not-an-origin"),
        ("VERITAS_LOG_FORMAT", "xml"),
        ("VERITAS_STORE_SYNCHRONOUS", "sometimes"),
        ("VERITAS_RETENTION_MAX_AUDITS", "-1"),
        ("VERITAS_STORE_BATCH_EVENTS", "0"),
        ("VERITAS_SHUTDOWN_TIMEOUT", "0"),
        ("VERITAS_API_TOKEN", "   "),
        ("VERITAS_STORE_BATCH_MS", "soon"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        from_environment({name: value})
    assert name.removeprefix("VERITAS_").lower() in str(error.value).lower()
