"""Response and request models (pydantic), one module per resource.

Models list exactly the fields a caller may receive (OWASP API3: cherry-pick returned
properties); fleet models carry no clinical field. FastAPI validates every answer
against them, and the OpenAPI document is generated from them.
"""
