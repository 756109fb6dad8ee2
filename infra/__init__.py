"""Annolake infrastructure: the CDK app and the local runtime that stands its template up.

Importing the package puts the virtualenv's Node.js first on PATH (``infra.nodejs``) before any module here
imports aws-cdk-lib, whose jsii runtime starts ``node`` from PATH.
"""

from infra.nodejs import put_first_on_path

put_first_on_path()
