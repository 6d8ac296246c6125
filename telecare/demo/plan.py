"""The demo's world as data: who works where, which households each gateway simulates.

Two organizations, as Danish telemedicine is run: a region whose hospital clinicians set
thresholds, and a municipality whose nurses monitor and whose fleet delivers devices.
Care teams mix them (a region clinician in a municipal team and back). Each gateway
simulates one home per entry of ``households`` (a cuff and an oximeter each,
devices.simulator), the entry being what that household goes through, with seeds
``seed, seed + 1, ...``, so the same patients show every time. As in real home
monitoring most households are well (``NORMAL``, some moving during a measurement);
a few are in an acute event (red) or above their program's limits (yellow). One gateway
is away (``runs=False``): its patients miss a measurement due a few minutes after
seeding, which raises blue alerts.

Each household's devices come with ``HISTORY`` of earlier measurements in memory, taken
at the times of the patient's schedule: the gateway collects them on its first
connection, so the charts show two weeks before the demo started.
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
    # What each household goes through, one entry per household.
    households: tuple[tuple[Scenario, ...], ...]
    seed: int
    runs: bool = True

    @property
    def seeds(self) -> range:
        return range(self.seed, self.seed + len(self.households))


WELL = (Scenario.NORMAL,)
MOVING = (Scenario.NORMAL, Scenario.MOTION_ARTEFACT)

# 6 + 6 + 6 + 2 = 20 patients. Red: the crisis and the hypotension on their first cuff
# reading (20 s after start, gateway/simulate.py DEMO_SCHEDULE), the desaturations when
# the first episode has lasted five minutes (about 8 minutes in). Yellow: blood pressure
# above the hypertension program's 135/85. Blue: the away households. The rest green,
# some moving during measurements (flagged readings), where the limits leave room for the
# error (a disturbed cuff reading under 135/85 limits would be a yellow one).
GATEWAYS = (
    GatewayPlan(
        gateway_id="gw-demo-1",
        organization=Org.REGION,
        team="heart",
        program=Program.HYPERTENSION,
        households=(
            WELL,
            (Scenario.HYPERTENSIVE_CRISIS,),
            (Scenario.ELEVATED_PRESSURE,),
            WELL,
            (Scenario.ELEVATED_PRESSURE,),
            (Scenario.ELEVATED_PRESSURE,),
        ),
        seed=101,
    ),
    GatewayPlan(
        gateway_id="gw-demo-2",
        organization=Org.MUNICIPALITY,
        team="lung",
        program=Program.COPD,
        households=(WELL, (Scenario.DESATURATION,), WELL, MOVING, (Scenario.DESATURATION,), WELL),
        seed=201,
    ),
    GatewayPlan(
        gateway_id="gw-demo-3",
        organization=Org.MUNICIPALITY,
        team="heart",
        program=Program.HEART_FAILURE,
        households=(WELL, (Scenario.HYPOTENSION,), WELL, MOVING, WELL, WELL),
        seed=301,
    ),
    GatewayPlan(
        gateway_id="gw-demo-away",
        organization=Org.MUNICIPALITY,
        team="lung",
        program=Program.GENERAL,
        households=(WELL, WELL),
        seed=401,
        runs=False,
    ),
)
# When the away household's extra measurement is due after seeding, and its window.
AWAY_DUE_AFTER = timedelta(minutes=2)
AWAY_GRACE = timedelta(minutes=1)
# Earlier measurements each household's devices hold (devices.simulator.history): two
# weeks, as TeleKOL's first weeks at home (clinical.md 5.5). Devices were delivered and
# patients enrolled a day before that, so the history falls inside both.
HISTORY = timedelta(days=14)
ENROLLED_BEFORE = HISTORY + timedelta(days=1)

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
    return sum(len(gateway.households) for gateway in GATEWAYS)
