"""The `chiroref` command: serve, migrate, validate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from profiles.issues import to_operation_outcome
from service.settings import Settings

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="chiroref: FHIR R4 MSK referral messaging"
)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (CHIROREF_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (CHIROREF_PORT)")] = None,
) -> None:
    """Run the gateway (embedded default: SQLite file, demo directory loaded)."""
    import uvicorn

    from service.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    typer.echo(f"chiroref: serving FHIR at {settings.base_url} (store {_safe_url(settings)})")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=settings.log_level,
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (CHIROREF_DATABASE_URL)."""
    from service.store.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url)
    typer.echo(f"chiroref: schema is current ({_safe_url(settings)})")


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Validate FHIR JSON files (a resource or a Bundle); print one OperationOutcome each."""
    from profiles.validate import validate_file

    failed = False
    for path in files:
        issues = validate_file(path)
        failed = failed or any(i.is_error for i in issues)
        outcome = to_operation_outcome(issues)
        if len(files) > 1:
            typer.echo(f"# {path}")
        sys.stdout.write(orjson.dumps(outcome, option=orjson.OPT_INDENT_2).decode() + "\n")
    raise typer.Exit(1 if failed else 0)


def _safe_url(settings: Settings) -> str:
    """The database URL without credentials, for logs."""
    url = settings.database_url
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":
    app()
