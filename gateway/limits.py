"""Every size limit of the MQTT contract, in one place.

The broker bounds nothing by default (Mosquitto's ``message_size_limit`` is 0, no limit:
mosquitto.conf(5), eclipse/mosquitto man/mosquitto.conf.5.xml), so the contract does:
payload bytes are checked before parsing, and the per-field bounds below are chosen so
that every payload passing them encodes under ``MAX_PAYLOAD_BYTES`` (the tests build the
worst case of each payload and prove it).
"""

from __future__ import annotations

# 256 KiB: a batch of a few hundred readings with room to spare; far below MQTT's own
# 256 MiB packet ceiling (MQTT 5.0 section 1.5.5, Variable Byte Integer).
MAX_PAYLOAD_BYTES = 256 * 1024

# Readings in one batch. A worst-case reading (longest ids, every flag) encodes to about
# 1.2 KB; gateways publish far smaller batches (GatewayConfig's batch_size, default 50).
MAX_READINGS_PER_BATCH = 200

# Batch ids one ack may name, committed and rejected together. Ingest acks what one
# database commit stored for one gateway; a larger backlog takes several acks.
MAX_ACK_ENTRIES = 256

# Devices one gateway may be assigned or report: a home box serves a few.
MAX_DEVICES_PER_GATEWAY = 64

# Gateway, device and batch ids, group names and profile keys: room for a serial
# number or a hostname label (RFC 1035 allows 63), short enough for topics and ACLs.
MAX_ID_LENGTH = 64

# Free text from devices or software: versions, firmware revision strings.
MAX_LABEL_LENGTH = 64

# Why ingest rejected a batch, as it tells the gateway (the full error stays in ingest's
# dead-letter table).
MAX_REASON_LENGTH = 200

# Counters (outbox depth) fit a PostgreSQL integer column (PostgreSQL docs 8.1.1).
MAX_COUNTER = 2**31 - 1
