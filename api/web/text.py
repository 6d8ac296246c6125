"""English and Danish texts of the web pages; the user's choice is kept in a cookie.

One table, key -> (English, Danish). Templates read ``t.key``; a missing key fails the
template at once (StrictUndefined), so a text is never silently blank in one language.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Language(StrEnum):
    """A page language; the value is the ``lang`` attribute and the cookie value."""

    EN = "en"
    DA = "da"


DEFAULT_LANGUAGE = Language.EN

_TABLE: Mapping[str, tuple[str, str]] = {
    "app": ("telecare", "telecare"),
    "sign_in": ("Sign in", "Log ind"),
    "sign_out": ("Sign out", "Log ud"),
    "username": ("User name", "Brugernavn"),
    "password": ("Password", "Adgangskode"),
    "wrong_login": ("Wrong user name or password.", "Forkert brugernavn eller adgangskode."),
    "too_many": (
        "Too many failed sign-ins. Try again later.",
        "For mange mislykkede forsøg. Prøv igen senere.",
    ),
    "language": ("Language", "Sprog"),
    "worklist": ("Worklist", "Arbejdsliste"),
    "fleet": ("Devices", "Udstyr"),
    "own_page": ("My measurements", "Mine målinger"),
    "patient": ("Patient", "Patient"),
    "severity": ("Severity", "Alvorlighed"),
    "care_team": ("Care team", "Team"),
    "all": ("All", "Alle"),
    "filter": ("Filter", "Filtrér"),
    "trigger": ("Triggering value", "Udløsende værdi"),
    "since": ("Since", "Siden"),
    "unacknowledged": ("Unacknowledged", "Ukvitterede"),
    "latest": ("Latest readings", "Seneste målinger"),
    "acknowledge": ("Acknowledge", "Kvittér"),
    "acknowledge_green": ("Acknowledge all green", "Kvittér for alle grønne"),
    "acknowledge_green_confirm": (
        "Mark the new measurements of every green patient in this list as reviewed? "
        "Patients who turn red, yellow or blue before you confirm are left out.",
        "Markér de nye målinger hos alle grønne patienter i listen som set? "
        "Patienter, der bliver røde, gule eller blå inden du bekræfter, springes over.",
    ),
    "confirm": ("Confirm", "Bekræft"),
    "unreviewed": ("Unreviewed measurements", "Usete målinger"),
    "resolve": ("Resolve", "Afslut"),
    "note": ("Note", "Note"),
    "live": ("Live: updates as alerts arrive", "Live: opdateres når alarmer kommer"),
    "red": ("Red", "Rød"),
    "yellow": ("Yellow", "Gul"),
    "blue": ("Blue (missing)", "Blå (mangler)"),
    "green": ("Green", "Grøn"),
    "no_patients": ("No patients.", "Ingen patienter."),
    "alerts": ("Alerts", "Alarmer"),
    "no_alerts": ("No alerts.", "Ingen alarmer."),
    "status": ("Status", "Status"),
    "condition": ("Condition", "Tilstand"),
    "value": ("Value", "Værdi"),
    "time": ("Time", "Tid"),
    "charts": ("Charts", "Grafer"),
    "day": ("Day", "Døgn"),
    "week": ("Week", "Uge"),
    "month": ("Month", "Måned"),
    "pulse": ("Pulse", "Puls"),
    "spo2": ("Oxygen saturation (SpO2)", "Iltmætning (SpO2)"),
    "flagged": ("marked by the device", "markeret af apparatet"),
    "band_legend": (
        "Shaded: yellow and red threshold bands. Triangles: readings the device flagged.",
        "Skraveret: gule og røde grænseområder. Trekanter: målinger apparatet markerede.",
    ),
    "thresholds": ("Thresholds", "Grænseværdier"),
    "red_low": ("Red low", "Rød nedre"),
    "yellow_low": ("Yellow low", "Gul nedre"),
    "yellow_high": ("Yellow high", "Gul øvre"),
    "red_high": ("Red high", "Rød øvre"),
    "save": ("Save", "Gem"),
    "kind": ("Measurement", "Måling"),
    "schedules": ("Measurement schedule", "Måleplan"),
    "times": ("Times", "Tidspunkter"),
    "grace": ("Minutes allowed late", "Minutter for sent"),
    "weekday_1": ("Mon", "man"),
    "weekday_2": ("Tue", "tir"),
    "weekday_3": ("Wed", "ons"),
    "weekday_4": ("Thu", "tor"),
    "weekday_5": ("Fri", "fre"),
    "weekday_6": ("Sat", "lør"),
    "weekday_7": ("Sun", "søn"),
    "nights": ("Oximetry nights", "Oximetri-nætter"),
    "night": ("Night", "Nat"),
    "mean": ("Mean", "Middel"),
    "minimum": ("Minimum", "Minimum"),
    "t90": ("Minutes below 90 %", "Minutter under 90 %"),
    "none": ("None.", "Ingen."),
    "audit": ("Who looked at the data", "Hvem har set data"),
    "who": ("Who", "Hvem"),
    "role": ("Role", "Rolle"),
    "organization": ("Organization", "Organisation"),
    "action": ("Action", "Handling"),
    "devices": ("Devices", "Apparater"),
    "device": ("Device", "Apparat"),
    "model": ("Model", "Model"),
    "serial": ("Serial number", "Serienummer"),
    "lifecycle": ("Lifecycle", "Livscyklus"),
    "battery": ("Battery", "Batteri"),
    "last_seen": ("Last seen", "Sidst set"),
    "assigned_to": ("Assigned citizen", "Tildelt borger"),
    "gateways": ("Gateways", "Gateways"),
    "gateway": ("Gateway", "Gateway"),
    "online": ("Online", "Online"),
    "offline": ("Offline", "Offline"),
    "outbox": ("Outbox depth", "Kø"),
    "outbox_full": ("outbox full", "kø fuld"),
    "bluetooth_unavailable": ("Bluetooth unavailable", "Bluetooth utilgængelig"),
    "reports_as": ("reports", "melder"),
    "technical_alerts": ("Technical alerts", "Tekniske alarmer"),
    "assign": ("Assign", "Tildel"),
    "unassign": ("Unassign", "Fjern tildeling"),
    "patient_id": ("Patient id", "Patient-id"),
    "move_to": ("Move to", "Flyt til"),
    "forbidden": ("You may not see this page.", "Du har ikke adgang til denne side."),
    "not_found": ("Not found.", "Findes ikke."),
    "conflict": ("That is not possible now.", "Det kan ikke lade sig gøre nu."),
    "back": ("Back", "Tilbage"),
    "your_readings": ("Your recent measurements", "Dine seneste målinger"),
    "measured": ("measured", "målt"),
    "systolic": ("Systolic pressure", "Systolisk tryk"),
    "diastolic": ("Diastolic pressure", "Diastolisk tryk"),
    "mean_arterial_pressure": ("Mean arterial pressure", "Middelblodtryk"),
    "pulse_rate": ("Pulse", "Puls"),
    "perfusion_index": ("Perfusion index", "Perfusionsindeks"),
    "cuff_pressure": ("Cuff pressure", "Manchettryk"),
    "skip": ("Skip to content", "Gå til indhold"),
}

_COLUMN = {Language.EN: 0, Language.DA: 1}


def texts(language: Language) -> Mapping[str, str]:
    """Every text in ``language``."""
    column = _COLUMN[language]
    return MappingProxyType({key: pair[column] for key, pair in _TABLE.items()})


def language_of(value: str | None) -> Language:
    """The language a cookie names, or the default for anything else."""
    try:
        return Language(value or DEFAULT_LANGUAGE)
    except ValueError:
        return DEFAULT_LANGUAGE
