"""Alert rules: pure functions from readings and thresholds to alert candidates.

    observation   what a rule sees of a stored reading; which flags make it unusable
    settings      RuleSettings: durations, coverage, limits of the technical rules
    spot          a spot reading beyond a limit; the irregular-pulse flag
    sustained     a continuous stream beyond a limit for long enough
    missing       a scheduled measurement that did not come (blue)
    technical     gateways, devices and clocks, for the fleet

``ingest.alerts`` puts them together; none of them does I/O.
"""
