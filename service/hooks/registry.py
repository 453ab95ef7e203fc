"""The service registry: one definition per CDS service feeds discovery and routing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from service.fhir.queries import PREFETCH_TYPES, prefetch_templates


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    #: "order": evaluate the rituximab orders; "chart": monitoring reminders
    evaluation: Literal["order", "chart"]
    #: indicators this service returns (order-select: only what would change the order;
    #: the medical-necessity summary and advisories belong to order-sign)
    indicators: tuple[str, ...] = ("info", "warning", "critical")

    def discovery(self) -> dict[str, Any]:
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": prefetch_templates(self.evaluation),
            "usageRequirements": self.usage_requirements(),
        }

    def usage_requirements(self) -> str:
        """The read access this service needs: the types of its own templates, and Medication."""
        types = [PREFETCH_TYPES[key] for key in prefetch_templates(self.evaluation)]
        return (
            f"Grant read access to {', '.join(types)} and Medication (references without a "
            "display are resolved from the FHIR server), or fill the prefetch."
        )


SERVICES: tuple[ServiceDefinition, ...] = (
    ServiceDefinition(
        id="rituximab-order-sign",
        hook="order-sign",
        title="Rituximab appropriateness and safety work-up",
        description=(
            "At signature of a rituximab order: documented indication and prerequisites, "
            "product, dose and interval, and the pre-infusion safety work-up (hepatitis B, "
            "immunoglobulins, tuberculosis, blood counts, vaccines, prior reactions), with "
            "one-click orders for what is missing. The medical-necessity summary card links "
            "(SMART link, \"Open course review\") to the course-review app at /app/launch: "
            "course timeline, lab trends, safety checklist and a printable necessity letter."
        ),
        evaluation="order",
    ),
    ServiceDefinition(
        id="rituximab-order-select",
        hook="order-select",
        title="Rituximab appropriateness and safety work-up (at selection)",
        description=(
            "The same evaluation as rituximab-order-sign, when a rituximab order is selected, "
            "so the work-up can be ordered before signing. Only warning and critical cards: "
            "the medical-necessity summary comes at signature."
        ),
        evaluation="order",
        indicators=("warning", "critical"),
    ),
    ServiceDefinition(
        id="rituximab-monitoring",
        hook="patient-view",
        title="Rituximab monitoring reminders",
        description=(
            "For patients who received rituximab in the last 12 months: immunoglobulins, blood "
            "counts and hepatitis B monitoring due, and when the next course falls due. Each card "
            "links (SMART link) to the course-review app at /app/launch."
        ),
        evaluation="chart",
    ),
)

SERVICES_BY_ID: dict[str, ServiceDefinition] = {s.id: s for s in SERVICES}
#: hook name -> the service that answers it (each hook has exactly one service here)
SERVICE_ID_BY_HOOK: dict[str, str] = {s.hook: s.id for s in SERVICES}


def discovery_document() -> dict[str, Any]:
    return {"services": [s.discovery() for s in SERVICES]}
