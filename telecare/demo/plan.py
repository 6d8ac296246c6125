"""The demo's world as data: who works where, which households each gateway simulates.

Two organizations, as Danish telemedicine is run: a region whose hospital clinicians set
thresholds, and a municipality whose nurses monitor and whose fleet delivers devices.
Care teams mix them (a region clinician in a municipal team and back). Each gateway
simulates ``households`` homes (a cuff and an oximeter each, devices.simulator) going
through its ``scenarios``, with seeds ``seed .. seed + households - 1``, so the same
patients show every time. One gateway is away (``runs=False``): its patients miss a
measurement due a few minutes after seeding, which raises blue alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from api.principal import Role
from api.queries.users import OrganizationKind
from devices.simulator.scenario import Scenario
from ingest.program import Program


class Org(StrEnum):
    """The demo's organizations, by their key here."""

    REGION = "region"
    MUNICIPALITY = "municipality"


ORGANIZATION_NAMES: dict[Org, tuple[OrganizationKind, str]] = {
    Org.REGION: (OrganizationKind.REGION, "Region Midtjylland (demo)"),
    Org.MUNICIPALITY: (OrganizationKind.MUNICIPALITY, "Aarhus Kommune (demo)"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Team:
    key: str
    organization: Org
    name: str


TEAMS = (
    Team(key="lung", organization=Org.MUNICIPALITY, name="Home nursing, lung patients"),
    Team(key="heart", organization=Org.REGION, name="Heart clinic, home monitoring"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    username: str
    organization: Org
    role: Role
    display_name: str
    teams: tuple[str, ...] = ()


# Every role once; the clinician and the nurse work across the two organizations.
USERS = (
    User(
        username="clinician",
        organization=Org.REGION,
        role=Role.CLINICIAN,
        display_name="Dr. Karen Holm",
        teams=("heart", "lung"),
    ),
    User(
        username="nurse",
        organization=Org.MUNICIPALITY,
        role=Role.NURSE,
        display_name="Mette Lund, home nurse",
        teams=("lung", "heart"),
    ),
    User(
        username="fleet",
        organization=Org.MUNICIPALITY,
        role=Role.FLEET_MANAGER,
        display_name="Jonas Krag, devices",
    ),
    User(
        username="admin-region",
        organization=Org.REGION,
        role=Role.ORGANIZATION_ADMIN,
        display_name="Region admin",
    ),
    User(
        username="admin-municipality",
        organization=Org.MUNICIPALITY,
        role=Role.ORGANIZATION_ADMIN,
        display_name="Municipality admin",
    ),
    User(
        username="auditor",
        organization=Org.MUNICIPALITY,
        role=Role.AUDITOR,
        display_name="Audit office",
    ),
)
# The citizen account: the first patient of the first gateway.
PATIENT_USERNAME = "patient"


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayPlan:
    gateway_id: str
    organization: Org
    team: str
    program: Program
    scenarios: tuple[Scenario, ...]
    seed: int
    households: int
    runs: bool = True

    @property
    def seeds(self) -> range:
        return range(self.seed, self.seed + self.households)


# 6 + 6 + 6 + 2 = 20 patients. Crisis and desaturation raise red alerts within the first
# minute (the cuff measures 20 s after start, devices.simulator DEMO_SCHEDULE);
# hypotension sits around the yellow low limit; the away household raises blue ones.
GATEWAYS = (
    GatewayPlan(
        gateway_id="gw-demo-1",
        organization=Org.REGION,
        team="heart",
        program=Program.HYPERTENSION,
        scenarios=(Scenario.HYPERTENSIVE_CRISIS,),
        seed=101,
        households=6,
    ),
    GatewayPlan(
        gateway_id="gw-demo-2",
        organization=Org.MUNICIPALITY,
        team="lung",
        program=Program.COPD,
        scenarios=(Scenario.DESATURATION,),
        seed=201,
        households=6,
    ),
    GatewayPlan(
        gateway_id="gw-demo-3",
        organization=Org.MUNICIPALITY,
        team="heart",
        program=Program.HEART_FAILURE,
        scenarios=(Scenario.HYPOTENSION, Scenario.MOTION_ARTEFACT),
        seed=301,
        households=6,
    ),
    GatewayPlan(
        gateway_id="gw-demo-away",
        organization=Org.MUNICIPALITY,
        team="lung",
        program=Program.GENERAL,
        scenarios=(Scenario.NORMAL,),
        seed=401,
        households=2,
        runs=False,
    ),
)
# When the away household's extra measurement is due after seeding, and its window.
AWAY_DUE_AFTER = timedelta(minutes=2)
AWAY_GRACE = timedelta(minutes=1)

# Fictional citizens, one per household in gateway order.
PATIENT_NAMES = (
    "Anna Andersen",
    "Bent Bertelsen",
    "Carla Christensen",
    "Dorte Dahl",
    "Erik Eriksen",
    "Freja Frost",
    "Gunnar Graversen",
    "Hanne Holm",
    "Ib Iversen",
    "Jytte Jensen",
    "Karl Kjær",
    "Lone Larsen",
    "Mogens Madsen",
    "Nanna Nielsen",
    "Ole Olsen",
    "Pia Poulsen",
    "Rasmus Riis",
    "Sofie Storm",
    "Torben Thomsen",
    "Ulla Urup",
)


def running_gateways() -> tuple[GatewayPlan, ...]:
    return tuple(gateway for gateway in GATEWAYS if gateway.runs)


def household_count() -> int:
    return sum(gateway.households for gateway in GATEWAYS)
