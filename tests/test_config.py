"""Settings from the environment."""

import os
import subprocess
import sys

import pytest

from shopsync import CONFIG_EXIT_CODE, config, create_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_tuning_settings_pass_through_as_numbers():
    environ = {"HEALTH_ORDER_LAG_WARNING": "75", "HEALTH_ERROR_RATE_CRITICAL": "0.2",
               "RECONCILE_THRESHOLD_ORDERS": "5", "ALERT_REPEAT_MINUTES": "15", "HOME": "/root"}
    assert config.tuning(environ) == {"HEALTH_ORDER_LAG_WARNING": 75,
                                      "HEALTH_ERROR_RATE_CRITICAL": 0.2,
                                      "RECONCILE_THRESHOLD_ORDERS": 5, "ALERT_REPEAT_MINUTES": 15}


def test_environment_and_dotenv_are_read(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("SHOPIFY_SHOP=from-dotenv.myshopify.com\nHEALTH_DLQ_SIZE_WARNING=7\n")
    monkeypatch.setenv("SHOPSYNC_ENV_FILE", str(env_file))
    monkeypatch.setenv("REDIS_URL", "redis://example:6379/0")
    for name in ("SHOPIFY_SHOP", "DATABASE_URL", "HEALTH_DLQ_SIZE_WARNING"):
        monkeypatch.setenv(name, "")  # so that teardown removes what load_dotenv sets
        monkeypatch.delenv(name)
    settings = config.from_environment()
    assert settings["SHOPIFY_SHOP"] == "from-dotenv.myshopify.com"
    assert settings["REDIS_URL"] == "redis://example:6379/0"
    assert settings["HEALTH_DLQ_SIZE_WARNING"] == 7
    assert settings["DATABASE_URL"] == config.DEFAULT_DATABASE_URL


def _without_secret_key(monkeypatch):
    monkeypatch.setenv("SHOPSYNC_ENV_FILE", "/nonexistent")
    monkeypatch.delenv("SECRET_KEY", raising=False)


def test_the_app_refuses_to_start_without_a_secret_key(monkeypatch):
    _without_secret_key(monkeypatch)
    with pytest.raises(config.ConfigError, match="SECRET_KEY is not set.*secrets.token_hex"):
        create_app()


@pytest.mark.parametrize("weak", ["dev-only-change-me", "test", "x" * 31])
def test_the_app_refuses_a_short_secret_key(monkeypatch, weak):
    _without_secret_key(monkeypatch)
    monkeypatch.setenv("SECRET_KEY", weak)
    with pytest.raises(config.ConfigError, match="SECRET_KEY is too short"):
        create_app()


# Every process of the Procfile, as it is started there (gunicorn without a control socket in $HOME).
PROCESSES = {
    "web": ["-m", "gunicorn", "-b", "127.0.0.1:0", "--no-control-socket", "wsgi:app"],
    "worker": ["worker.py"],
    "scheduler": ["-m", "shopsync.scheduler"],
    "release": ["-m", "flask", "--app", "wsgi", "init-db"],
}


@pytest.mark.parametrize("process", PROCESSES)
def test_every_process_exits_with_just_the_message_without_a_secret_key(tmp_path, process):
    env = {name: value for name, value in os.environ.items() if name != "SECRET_KEY"}
    env.update(SHOPSYNC_ENV_FILE="/nonexistent", DATABASE_URL=f"sqlite:///{tmp_path}/s.db")
    result = subprocess.run([sys.executable, *PROCESSES[process]], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == CONFIG_EXIT_CODE, result.stderr
    assert f"shopsync cannot start: SECRET_KEY is not set: {config.SECRET_KEY_HELP}\n" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize(("value", "verify"), [(None, True), ("", True), ("1", True), ("true", True),
                                              ("0", False), ("no", False), ("Off", False)])
def test_redis_tls_verification_is_on_unless_turned_off(monkeypatch, value, verify):
    monkeypatch.setenv("SHOPSYNC_ENV_FILE", "/nonexistent")
    if value is None:
        monkeypatch.delenv("REDIS_TLS_VERIFY", raising=False)
    else:
        monkeypatch.setenv("REDIS_TLS_VERIFY", value)
    assert config.from_environment()["REDIS_TLS_VERIFY"] is verify


def test_a_misspelt_redis_tls_setting_is_refused(monkeypatch):
    monkeypatch.setenv("REDIS_TLS_VERIFY", "maybe")
    with pytest.raises(config.ConfigError, match="REDIS_TLS_VERIFY='maybe' is neither 1 nor 0"):
        config.from_environment()


def test_drains_do_not_rest_unless_told_to(monkeypatch):
    monkeypatch.setenv("SHOPSYNC_ENV_FILE", "/nonexistent")
    monkeypatch.delenv("SHOPSYNC_DRAIN_REST_RATIO", raising=False)
    assert config.from_environment()["DRAIN_REST_RATIO"] == 0
    monkeypatch.setenv("SHOPSYNC_DRAIN_REST_RATIO", "0.5")
    assert config.from_environment()["DRAIN_REST_RATIO"] == 0.5


@pytest.mark.parametrize("text", ["-1", "slow", "nan", "inf"])
def test_a_drain_rest_ratio_must_be_a_number_not_below_zero(text):
    with pytest.raises(config.ConfigError, match="SHOPSYNC_DRAIN_REST_RATIO"):
        config.rest_ratio(text)


def test_every_threshold_the_code_reads_has_its_default_in_config(monkeypatch):
    from shopsync import health, reconciliation

    monkeypatch.setenv("SHOPSYNC_ENV_FILE", "/nonexistent")
    for name in [name for name in os.environ if name.startswith(config.TUNING_PREFIXES)]:
        monkeypatch.delenv(name)
    settings = config.from_environment()
    assert {metric.name: metric.thresholds(settings) for metric in health.METRICS}["order_lag"] == (50, 200)
    assert [settings[f"RECONCILE_THRESHOLD_{name.upper()}"] for name in reconciliation.ENTITIES] == [
        100, 10, 100]
