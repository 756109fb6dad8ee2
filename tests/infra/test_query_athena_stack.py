"""Athena over the query index: the Glue table over the index files, the workgroup, and the API function's grants."""

from __future__ import annotations

import json

from infra.constructs.query_index import INDEX_COLUMNS, INDEX_TABLE
from tests.infra.templates import one, resources
from tests.infra.test_app_stack import API, actions, role_statements, service_functions


def test_the_glue_table_projects_each_datasets_index_prefix(dev):
    template = dev.app_template
    _, database = one(template, "AWS::Glue::Database")
    assert database["Properties"]["DatabaseInput"]["Name"] == "annolake_dev"
    _, table = one(template, "AWS::Glue::Table")
    props = table["Properties"]
    assert props["DatabaseName"] == "annolake_dev"
    table_input = props["TableInput"]
    assert table_input["Name"] == INDEX_TABLE and table_input["TableType"] == "EXTERNAL_TABLE"
    assert [k["Name"] for k in table_input["PartitionKeys"]] == ["project", "dataset"]
    parameters = table_input["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.project.type"] == parameters["projection.dataset.type"] == "injected"
    template_text = json.dumps(parameters["storage.location.template"])
    assert "/index/${project}/${dataset}/" in template_text  # the layout storage.index_prefix writes
    descriptor = table_input["StorageDescriptor"]
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert {c["Name"]: c["Type"] for c in descriptor["Columns"]} == INDEX_COLUMNS


def test_the_workgroup_encrypts_and_enforces_its_results(dev):
    _, workgroup = one(dev.app_template, "AWS::Athena::WorkGroup")
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert "/athena-results/" in json.dumps(config["ResultConfiguration"]["OutputLocation"])
    assert 0 < config["BytesScannedCutoffPerQuery"] <= 10 * 1024**3
    assert config["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"
    rules = [
        rule
        for bucket in resources(dev.data, "AWS::S3::Bucket").values()
        for rule in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
    ]
    (rule,) = [r for r in rules if r.get("Prefix") == "athena-results/"]
    assert rule["ExpirationInDays"] == 1


def test_only_the_api_function_queries_athena_on_its_workgroup_and_table(dev):
    template = dev.app_template
    functions = service_functions(template)
    _, api = functions[API]
    environment = api["Environment"]["Variables"]
    assert environment["ATHENA_DATABASE"] == "annolake_dev" and environment["ATHENA_TABLE"] == INDEX_TABLE
    assert environment["ATHENA_WORKGROUP"] == "annolake-dev-query"
    statements = role_statements(template, api)
    athena = [s for s in statements if any(str(a).startswith("athena:") for a in actions([s]))]
    assert actions(athena) == {
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
    }
    assert all("workgroup/annolake-dev-query" in json.dumps(s["Resource"]) for s in athena)
    glue = [s for s in statements if any(str(a).startswith("glue:") for a in actions([s]))]
    assert actions(glue) == {"glue:GetDatabase", "glue:GetTable", "glue:UpdateTable"}
    (granted,) = [s["Resource"] for s in glue]
    assert len(granted) == 3 and "*" not in json.dumps(granted)
    for handler, (_, props) in functions.items():
        if handler != API:
            others = actions(role_statements(template, props))
            assert not any(a.startswith(("athena:", "glue:")) for a in others), handler


def test_the_api_runs_a_snapstart_version_behind_an_alias(dev):
    template = dev.app_template
    function_id, api = service_functions(template)[API]
    assert api["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    _, version = one(template, "AWS::Lambda::Version")
    assert version["Properties"]["FunctionName"] == {"Ref": function_id}
    _, alias = one(template, "AWS::Lambda::Alias")  # the gateway calls it (test_app_stack)
    assert alias["Properties"]["FunctionName"] == {"Ref": function_id}
    assert alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][1] == "Version"
