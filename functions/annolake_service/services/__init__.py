"""Application services: one function per use case, composing pure domain rules with adapters."""
