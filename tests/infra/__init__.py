"""CDK assertions, cdk-nag and cfn-lint on the synthesized templates."""
