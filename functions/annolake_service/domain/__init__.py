"""Pure domain logic: entities, rules, query language. No boto3, no PynamoDB, no FastAPI."""
