"""DynamoDB access: the single table's items, keys, cursors and conditional writes, one repository per aggregate.

Repositories take and return domain models (``domain/``); nothing outside this package builds a key or reads an
item. The key layout and access patterns are in ``keys.py``.
"""
