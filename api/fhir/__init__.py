"""FHIR R4 under ``/fhir``: Patient, Device, Observation, and Bulk Data ``$export``.

api.fhir.codes      code systems, profiles and the tables that map telecare's kinds,
                    absent reasons and status flags to them
api.fhir.resources  pure functions: rows -> FHIR resources (JSON objects)
api.fhir.export     asynchronous Bulk Data export jobs writing NDJSON
"""
