"""CDK constructs, one per concern: tables, storage, identity, functions, API, ingest, monitoring."""
