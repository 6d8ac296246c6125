"""The clinician and fleet api: FastAPI over the telecare database.

``api.app.create_app(settings)`` builds the application; nothing is created at import
time. The pieces, upstream first:

    api.settings     ApiSettings, read once from TELECARE_* variables
    api.errors       the domain errors every module raises
    api.db           the one place that imports psycopg: pools, connections, translation
    api.problem      the one place that maps errors to HTTP (RFC 9457 bodies)
    api.password     Argon2id hashing
    api.token        JWT access tokens (ours: HS256; an OIDC issuer's: its JWKS keys)
    api.session      the password grant, refresh-token rotation, sign-out
    api.ratelimit    failed sign-ins per user name and address
    api.principal    who is calling: Role, Principal
    api.access       who may see what: role grants, and scopes as SQL inside every query
    api.audit        the append-only audit record per patient touched, and the trails
    api.lifecycle    a device's fleet lifecycle states and transitions
    api.live         alert events followed once per process, fanned out to SSE streams
    api.mqtt         the api's only paho import: publishing a gateway's retained config
    api.queries.*    SQL per resource; api.schemas.* models; api.routes.* endpoints
    api.fhir.*       FHIR R4 mapping, search parameters and Bulk Data export
    api.deps, api.middleware, api.openapi, api.timerange: the FastAPI glue
"""
