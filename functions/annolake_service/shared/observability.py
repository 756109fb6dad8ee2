"""Structured logging shared by every function (Powertools Logger, JSON to stdout)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="annolake")
