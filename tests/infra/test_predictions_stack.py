"""The prediction state machine and the model function: its layer of its own, the Map over chunks, and the API's
narrow grants to start, stop and call them."""

from __future__ import annotations

from tests.infra.templates import one, resources, state_machine_definition
from tests.infra.test_app_stack import API, role_statements, service_functions

MODEL = "annolake_service.handlers.model.handler"


def test_only_the_model_function_gets_the_model_layer(dev):
    template = dev.app_template
    model_layer, layer = one(template, "AWS::Lambda::LayerVersion", "PredictionsModelLayer")
    assert "onnxruntime" in layer["Properties"]["Description"]
    functions = service_functions(template)
    holders = [h for h, (_, props) in functions.items() if {"Ref": model_layer} in props["Layers"]]
    assert holders == [MODEL]
    assert functions[MODEL][1]["MemorySize"] == 3008 and functions[MODEL][1]["Timeout"] == 900


def test_the_model_function_imports_nothing_its_layer_leaves_out():
    """Its layer is built without the API's and the query index's packages (layers/build.py), so its handler
    must import without them."""
    import subprocess
    import sys

    from tests.infra.test_app_stack import REPO_ROOT

    build = _layer_build()
    blocked = sorted(build.NOT_IN_MODEL_LAYER | {"jwt", "starlette"})
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}: raise ImportError('not in the model layer: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import annolake_service.handlers.model\n"
    )
    env = {"PYTHONPATH": str(REPO_ROOT / "functions"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    model_deps = " ".join(build.dependencies(layer="model"))
    assert "onnxruntime" in model_deps and "pydantic" in model_deps and "duckdb" not in model_deps


def _layer_build():
    import importlib.util

    from infra.constructs.dependency_layer import BUILD_SCRIPT

    spec = importlib.util.spec_from_file_location("layer_build_for_model", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_id_of(template):
    return service_functions(template)[MODEL][0]


def test_the_state_machine_maps_the_chunks_onto_the_model_function(dev):
    template = dev.app_template
    _, machine = one(template, "AWS::StepFunctions::StateMachine", "PredictionsStateMachine")
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    definition = state_machine_definition(machine)
    assert definition["StartAt"] == "RunOrEvaluate"
    [evaluate] = definition["States"]["RunOrEvaluate"]["Choices"]
    assert evaluate["Next"] == "EvaluateRun" and definition["States"]["RunOrEvaluate"]["Default"] == "PlanPredictions"
    evaluation = definition["States"]["EvaluateRun"]
    assert model_id_of(template) in evaluation["Resource"] and evaluation["Retry"][0]["MaxAttempts"] == 3
    chunks = definition["States"]["PredictChunks"]
    assert chunks["Type"] == "Map" and chunks["ItemsPath"] == "$.plan.chunks" and chunks["MaxConcurrency"] == 4
    chunk = chunks["ItemProcessor"]["States"]["PredictChunk"]
    model_id = service_functions(template)[MODEL][0]
    assert model_id in chunk["Resource"]
    assert chunk["Retry"][0]["MaxAttempts"] == 3 and chunk["Retry"][0]["BackoffRate"] == 2
    for state in ("PlanPredictions", "PredictChunks", "FinishPredictions"):
        assert definition["States"][state]["Catch"][0]["Next"] == "FailPredictions"


def test_the_api_may_start_stop_and_call_only_these(dev):
    template = dev.app_template
    functions = service_functions(template)
    statements = role_statements(template, functions[API][1])
    machine_id, _ = one(template, "AWS::StepFunctions::StateMachine", "PredictionsStateMachine")
    model_id = functions[MODEL][0]

    def granted(action: str) -> list:
        """Every resource granted ``action`` (CDK merges statements, so a resource may come in a list)."""
        found = []
        for statement in statements:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            if action in actions:
                listed = statement["Resource"]
                found += listed if isinstance(listed, list) else [listed]
        return found

    assert {"Ref": machine_id} in granted("states:StartExecution")
    stops = granted("states:StopExecution")
    assert any("annolake-dev-predict:*" in str(stop) for stop in stops)
    invoke = granted("lambda:InvokeFunction")
    assert invoke and all(model_id in str(r) for r in invoke)
    assert len(resources(template, "AWS::Lambda::LayerVersion")) == 3  # the dependencies, the model's, the video's


def test_the_model_function_may_invoke_only_prefixed_functions_and_read_only_model_secrets(dev):
    """A lambda-hosted model's function must be named ``annolake-<stage>-models-…``: the one name pattern the
    model function's role may invoke; an http-hosted model's secret is read under the models' secret prefix."""
    template = dev.app_template
    statements = role_statements(template, service_functions(template)[MODEL][1])

    def granted(action: str) -> str:
        found = [
            s["Resource"]
            for s in statements
            if action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        ]
        return str(found)

    invoke = granted("lambda:InvokeFunction")
    assert "function:annolake-dev-models-*" in invoke and invoke.count("Fn::Join") == 1
    secrets = granted("secretsmanager:GetSecretValue")
    assert "secret:annolake/dev/models/*" in secrets and "webhooks" not in secrets
    api = str(role_statements(template, service_functions(template)[API][1]))
    assert "secret:annolake/dev/models/*" in api and "lambda:InvokeFunction" in api
    environment = str(template["Resources"])
    assert "annolake-dev-models-" in environment  # MODEL_HOST_FUNCTION_PREFIX, as the service checks it
