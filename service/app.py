"""create_app(settings): the FHIR gateway with its seams on one screen (STYLE.md 13)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime

from fastapi import Depends, FastAPI

from profiles import lean_structure, structure
from profiles.package import default_profiles, supported_profiles
from service.api import demo_inbox, operations, outcome
from service.api.deps import negotiate
from service.api.metadata import capability_statement
from service.api.middleware import AfterCommitMiddleware, RequestContextMiddleware
from service.api.responses import FhirResponse
from service.api.rest import mount_create, process_bundle, router
from service.api.urls import Urls, mount_path
from service.demo.loader import load_demo
from service.settings import Settings
from service.store.db import Store
from service.store.migrate import upgrade_async
from service.store.search_params import RESOURCE_TYPES, SEARCH_PARAMS
from service.workflow.after_commit import load_enqueue


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="chiroref",
        lifespan=_lifespan(settings),
        default_response_class=FhirResponse,
        openapi_url=None,  # the CapabilityStatement is this server's description
        docs_url=None,
        redoc_url=None,
    )
    structure.use_fast_path(settings.structure_fast_path)
    if settings.structure_fast_path:
        lean_structure.prepare((*RESOURCE_TYPES, "Bundle"))  # now, not on first requests
    app.state.settings = settings
    app.state.urls = Urls.of(settings.base_url)
    app.state.capability_statement = _capability_statement(settings)
    app.add_middleware(AfterCommitMiddleware, enqueue=load_enqueue(settings))
    app.add_middleware(outcome.CatchAllMiddleware)  # inside the request id, outside the rest
    app.add_middleware(RequestContextMiddleware)
    outcome.install(app)
    prefix = mount_path(settings.base_url)
    for base in sorted({prefix or "/", f"{prefix}/"}):  # POST [base], with or without "/"
        app.add_api_route(base, process_bundle, methods=["POST"], dependencies=[Depends(negotiate)])
    app.include_router(operations.router, prefix=prefix)
    app.include_router(router, prefix=prefix)
    mount_create(app, prefix)
    if settings.load_demo:
        app.include_router(demo_inbox.router)
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn service.app:app_from_env --factory`: settings from CHIROREF_*."""
    return create_app(Settings())


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await upgrade_async(settings.database_url)
        app.state.store = await Store.open(settings.database_url)
        try:  # from here on, a failure (the demo load, the app's shutdown) closes the store
            if settings.load_demo:
                await load_demo(app.state.store, settings.base_url)
            yield
        finally:
            await app.state.store.close()

    return lifespan


def _capability_statement(settings: Settings) -> dict[str, object]:
    return capability_statement(
        base_url=settings.base_url,
        now=datetime.now(UTC),
        resource_types=RESOURCE_TYPES,
        search_params=SEARCH_PARAMS,
        supported=supported_profiles(),
        defaults={t: default_profiles(t) for t in RESOURCE_TYPES},
    )
