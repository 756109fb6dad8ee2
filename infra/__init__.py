"""Annolake infrastructure: the CDK app and the local runtime that stands its template up."""
