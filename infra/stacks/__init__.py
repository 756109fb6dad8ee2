"""The stacks of one stage: data (stateful) apart from app (compute), so app changes never touch the data."""
