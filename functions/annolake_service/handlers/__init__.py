"""Thin entry points for non-HTTP events: parse the event, call one service function, return."""
