"""Local runtime: the synthesized CDK template on a moto emulator (``python -m infra.local``)."""
