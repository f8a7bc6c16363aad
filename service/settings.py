"""One settings class, built once and passed in (never read at import time)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHIROREF_", frozen=True)

    base_url: str = "http://127.0.0.1:8080/fhir"
    canonical_base: str = "https://chiroref.example.org/fhir"
    database_url: str = "sqlite+aiosqlite:///chiroref.db"
    broker_url: str = "memory://"
    max_body_bytes: int = 1_048_576
    default_page_size: int = 50
    max_page_size: int = 500
    load_demo: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
