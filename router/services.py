"""`Services`: the router's parts, built once by `router.app.create_app` and read by the routes.

The app keeps one `Services` (in `app.state`, under `SERVICES_STATE`); a route reads it through the
`services` dependency (`AppServices` as a parameter type) instead of reaching into `app.state`. A new
service is a field here, built in `create_app`.

NOTE: this module sits beside `router.chat` in the layer order (`chat : services`): the chat run's
accounting reads the container, and the container holds the chat service. The chat types it names
only for the type checker are imported under TYPE_CHECKING, so importing either module first works.
The tenancy layer below reads its part through a protocol (`router.tenancy.http.TenancyParts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from cluster.telemetry import TelemetrySampler
from router.embeddings_service import EmbeddingsService
from router.metrics import RouterMetrics
from router.registry import ModelRegistry
from router.routing.service import RoutingService
from router.routing.shared_state import SharedRoutingState
from router.store.responses import ResponseStore
from router.tenancy.http import SERVICES_STATE, TenancyParts
from router.tenancy.service import TenancyService

if TYPE_CHECKING:
    from router.chat.accounted import StreamSettings
    from router.chat.service import ChatService

__all__ = ["SERVICES_STATE", "AppServices", "Services", "services"]


@dataclass(frozen=True)
class Services:
    """Everything a route needs, typed: built by `create_app`, never changed while the app runs."""

    registry: ModelRegistry  # model names → catalogue entries and their engines
    metrics: RouterMetrics
    telemetry: TelemetrySampler  # the latest load (and GPU) sample
    routing: RoutingService
    shared_routing: SharedRoutingState  # breakers and spillover shared with the other routers
    tenancy: TenancyService
    chat: ChatService
    embeddings: EmbeddingsService
    streams: StreamSettings  # bounds on streamed answers
    status_provider: Callable[[], dict[str, Any]]  # the deployments' state for `/status`
    admin_key: str | None = None  # None: the admin API is disabled
    response_store: ResponseStore | None = None  # None: `previous_response_id` is refused


def services(request: Request) -> Services:
    """The app's services."""
    found: Services = getattr(request.app.state, SERVICES_STATE)
    return found


async def _services_dependency(request: Request) -> Services:
    # NOTE: async on purpose: FastAPI runs a plain `def` dependency on its thread pool, a thread hop
    # per request for an attribute read.
    return services(request)


AppServices = Annotated[Services, Depends(_services_dependency)]
"""An endpoint parameter of this type receives the app's services."""


def _tenancy_parts(found: Services) -> TenancyParts:
    return found  # mypy checks here that `Services` has what the tenancy layer reads
