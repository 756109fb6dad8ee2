"""The only modules that talk to AWS (boto3, PynamoDB)."""
