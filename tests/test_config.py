"""Settings from the environment."""

from shopsync import config


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
