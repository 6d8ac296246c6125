"""Private PostgreSQL and Mosquitto servers started on loopback: for the demo and the tests.

``postgres.PostgresCluster`` is an initdb/pg_ctl cluster in a directory of its own;
``broker.Mosquitto`` is a mosquitto process with a generated config. Both run the
machine's own binaries (scripts/system-deps installs them).
"""
