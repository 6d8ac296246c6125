"""``telecare demo``: the whole platform on one machine, on embedded defaults.

plan.py         the demo's world as tables: organizations, care teams, users,
                gateways with their households, programs and scenarios
credentials.py  the random demo passwords and api secret, kept in the data directory
seed.py         writes the plan into a migrated database, once
services.py     the child processes (ingest, api, gateways) and their pid file
run.py          the order of things: broker, database, migrate, seed, services, wait
"""
