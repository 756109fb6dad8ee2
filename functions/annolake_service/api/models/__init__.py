"""The API's request and response bodies, one module per resource.

Requests are named ``XCreate`` / ``XUpdate`` (or for what they ask, e.g. ``TaskClaim``), responses ``XPublic``, lists
``XsPublic`` and pages ``XPage``. FastAPI validates every response against its model, so the OpenAPI document (and the
web UI's client generated from it) cannot drift from what the routes return.
"""
