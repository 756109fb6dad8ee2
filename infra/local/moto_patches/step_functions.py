"""moto's Step Functions engine: parsing safe under threads and done once per definition, Lambda errors named
as Step Functions names them, one pooled client per service, the 256 KB payload limit as Step Functions has it."""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import json
import marshal
import os
import pickle
import re
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

from infra.local.moto_patches.patching import MARK, copy_module_with, replace, require_moto_version


def thread_safe_state_machine_parsing() -> None:
    """moto's ASL preprocessor keeps its query-language scope stack in a class attribute, shared by every parse:
    two executions starting at once corrupt each other's stack, and one of them dies in its worker thread before
    its first state (a dropped file that never becomes ready). Each preprocessor gets its own stack."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    def own_scopes(init: Callable[..., None]) -> Callable[..., None]:
        def __init__(self: Preprocessor, *args: object, **kwargs: object) -> None:
            init(self, *args, **kwargs)
            self._query_language_per_scope = []

        return __init__

    replace(Preprocessor, "__init__", "own-scopes", own_scopes)


def parse_each_state_machine_once() -> None:
    """moto's engine parses the state machine's definition with the ANTLR runtime (pure Python) at the start of
    every execution (~4 ms of the emulator's one GIL per ingested file), then builds the execution's evaluation
    components from the tree (~6 ms more). The parse tree of a definition text never changes and nothing writes
    to it, so each text is parsed once. The components keep per-execution state, so every execution needs its own:
    they are built once per text and kept pickled, and each execution gets a fresh unpickled copy (~0.5 ms).
    Definitions that fail to parse are not remembered; components that cannot be pickled are built each time."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    require_moto_version()
    parse = AmazonStateLanguageParser.parse
    if "tree-once" in getattr(parse, MARK, frozenset()):
        return

    @functools.lru_cache(maxsize=256)
    def known(definition: str) -> tuple[Any, bytes | None]:
        program, tree = parse(definition)  # raises for a definition that does not parse: nothing cached
        try:
            return tree, pickle.dumps(program, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            return tree, None

    def parse_with_known_tree(definition: str) -> tuple[Any, Any]:
        tree, pristine = known(definition)
        return (pickle.loads(pristine) if pristine is not None else Preprocessor().visit(tree)), tree  # noqa: S301

    setattr(parse_with_known_tree, MARK, getattr(parse, MARK, frozenset()) | {"tree-once"})
    AmazonStateLanguageParser.parse = staticmethod(parse_with_known_tree)  # type: ignore[method-assign]


def name_lambda_service_errors_as_step_functions_does() -> None:
    """When the invocation of a task's Lambda function itself fails (throttled, a Lambda service error), Step
    Functions names the error ``Lambda.<code>`` (``Lambda.TooManyRequestsException``): what the states' Retry
    policies match. moto does so for ``arn:aws:states:::lambda:invoke`` tasks but names it ``Exception`` for
    tasks whose Resource is the function's ARN (CDK's ``payload_response_only``), so nothing was retried."""
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

    def named(from_error: Callable[..., Any]) -> Callable[..., Any]:
        def _from_error(self: StateTaskLambda, env: Any, ex: Exception) -> Any:
            failure = from_error(self, env, ex)
            if isinstance(ex, ClientError):
                error = f"Lambda.{ex.response['Error']['Code']}"
                failure.error_name = CustomErrorName(error)
                failure.event_details["lambdaFunctionFailedEventDetails"]["error"] = error
            return failure

        return _from_error

    replace(StateTaskLambda, "_from_error", "lambda-error-names", named)


_ENGINE_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
)


def reuse_step_functions_clients() -> None:
    """moto's ASL engine builds a new boto3 client for every task it runs (tens of ms each, and a new
    connection); give it one pooled client per region and service instead (clients are thread-safe)."""
    from functools import lru_cache

    import boto3
    from botocore.config import Config

    @lru_cache(maxsize=64)
    def pooled(region: str, service: str, port: str) -> object:
        return boto3.client(
            service_name=service,
            region_name=region,
            endpoint_url=f"http://localhost:{port}",
            aws_access_key_id="ak",
            aws_secret_access_key="sk",  # noqa: S106 - the engine's fixed credentials, as moto sets them
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                read_timeout=99999999,
                max_pool_connections=64,
            ),
        )

    def boto_client_for(region: str, service: str, state_credentials: object = None) -> object:
        return pooled(region, service, os.environ.get("MOTO_PORT", "5000"))  # an emulator started later: its own

    for name in _ENGINE_MODULES:
        replace(importlib.import_module(name), "boto_client_for", "pooled-clients", lambda _: boto_client_for)


def parse_each_json_path_once() -> None:
    """moto's engine builds a new JSONPath parser (reading its yacc tables) for every path it evaluates: each
    task's ``ResultPath``, each ``$.field`` a Choice or Parameters reads, several per state of every execution
    (~3% of the emulator's time at ingest). A parsed path is immutable (finding and updating values do not change
    it), so each path text is parsed once and shared."""
    import jsonpath_ng
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    def cached(parse: Callable[[str], Any]) -> Callable[[str], Any]:
        return functools.lru_cache(maxsize=1024)(parse)

    replace(json_path, "parse", "parsed-once", lambda _: cached(jsonpath_ng.ext.parse))  # the extended grammar
    replace(result_path, "parse", "parsed-once", lambda _: cached(jsonpath_ng.parse))  # the base grammar


_EXTRACTING_MODULES = (
    "moto.stepfunctions.parser.asl.utils.json_path",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.intrinsic.argument.argument",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.boolean_equals",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.numeric",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.timestamp_operators",
    "moto.stepfunctions.parser.asl.eval.states",
)
#: A definite path: field names and literal indexes only (no wildcard, slice, filter or union).
_DEFINITE_PATH = re.compile(r"\$(?:\.[A-Za-z_][\w-]*|\[\d+\])+")


def definite_paths_give_their_value() -> None:
    """A definite path into an array's element (``$.annotated[0].completed``) gives that element's value, as
    Step Functions gives it; moto gives a one-element list whenever a match's parent is an array element (its
    fix for filter queries, which do give lists), so such a Choice rule never matched. Other paths: moto's."""
    from moto.stepfunctions.parser.asl.utils import json_path

    def make(extract: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
        def definite(path: str, data: Any) -> Any:
            if _DEFINITE_PATH.fullmatch(path):
                matches = json_path.parse(path).find(data)
                if len(matches) == 1:
                    return matches[0].value
            return extract(path, data)

        return definite

    for name in _EXTRACTING_MODULES:
        replace(importlib.import_module(name), "extract_json", "definite-paths", make)


MAX_PAYLOAD_BYTES = 256 * 1024  # Step Functions' largest input or output of a state, task or execution
_QUOTA_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.state",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
)


def step_functions_payload_limit() -> None:
    """Step Functions fails a state whose input or output is over 256 KB with ``States.DataLimitExceeded``: its
    input as it enters (an execution's input is its first state's) and once Parameters made it, and its output.

    moto checks outputs and task results only, refuses exactly 256 KB (``<``), which Step Functions allows, and
    measures JSON with spaces after separators.
    Here a state's input is checked as it enters and a task's input once its Parameters are evaluated (the
    Lambda payload, the service call's parameters), and exactly 256 KB passes.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField

    def within_limit(value: Any) -> bool:
        """The value's size as compact JSON in UTF-8 (moto measured a string value without its quotes)."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        return len(text.encode("utf-8")) <= MAX_PAYLOAD_BYTES

    for name in _QUOTA_MODULES:
        replace(importlib.import_module(name), "is_within_size_quota", "payload-limit", lambda _: within_limit)

    def refuse_input(state: Any, env: Any, value: Any) -> None:
        if not within_limit(value):
            raise _data_limit_exceeded(
                env,
                f"The state/task '{state.name}' has an input of more than {MAX_PAYLOAD_BYTES} bytes, Step "
                "Functions' limit for the input or output of a state: pass a reference (an S3 key) instead",
            )

    def checked_input(eval_state_input: Callable[..., None]) -> Callable[..., None]:
        def _eval_state_input(self: Any, env: Any) -> None:
            eval_state_input(self, env)
            refuse_input(self, env, env.stack[-1])

        return _eval_state_input

    def checked_parameters(eval_parameters: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        def _eval_parameters(self: Any, env: Any) -> dict[str, Any]:
            parameters = eval_parameters(self, env)
            refuse_input(self, env, parameters["Payload"] if isinstance(self, StateTaskLambda) else parameters)
            return parameters

        return _eval_parameters

    replace(CommonStateField, "_eval_state_input", "payload-limit", checked_input)
    replace(StateTask, "_eval_parameters", "payload-limit", checked_parameters)
    replace(StateTaskLambda, "_eval_parameters", "payload-limit", checked_parameters)


def _data_limit_exceeded(env: Any, cause: str) -> Exception:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    error = StatesErrorNameType.StatesStatesDataLimitExceeded
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # one kind of details, as moto gives it
                executionFailedEventDetails=ExecutionFailedEventDetails(error=error.to_name(), cause=cause)
            ),
        )
    )


LAMBDA_PAYLOAD_LIMIT = 6_000_000  # moto's check on a synchronous invocation's answer (Lambda: 6 MB)
_invocation_faults: list[Callable[[], bool]] = []  # the emulator's "is any fault rule set?" (the latest one's)


def invoke_task_functions_directly(faults_set: Callable[[], bool]) -> None:
    """moto's engine runs a task whose Resource is a function's ARN through a boto3 Lambda client: botocore
    builds, signs and parses the request and the emulator's whole request path answers it, about a sixth of
    the emulator's CPU at ingest for two small JSON documents. The task's invocation goes to moto's Lambda
    backend instead, as moto's ``Invoke`` view calls it, with the answer that view gives (the payload, the
    function error, the size limit) and the call recorded for the IAM audit as the state machine's role.

    While a fault rule is set (``faults_set()``), or for a parameter other than the function and its payload,
    or a function moto does not know, the invocation takes the client as before: fault rules on
    ``lambda:Invoke`` and moto's error answers keep applying."""
    import io

    from moto.awslambda.models import lambda_backends
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    from infra.local.iam_audit.recorder import installed as audit_recorder

    _invocation_faults[:] = [faults_set]

    def direct(through_client: Callable[..., Any]) -> Callable[..., Any]:
        def _invoke_lambda_function(parameters: dict, region: str, state_credentials: Any) -> dict[str, Any]:
            arn = parameters.get("FunctionName", "")
            if set(parameters) - {"FunctionName", "Payload"} or not arn.startswith("arn:") or _invocation_faults[0]():
                return through_client(parameters, region, state_credentials)
            backend = lambda_backends[arn.split(":")[4]][region]
            try:
                backend.get_function(arn)
            except Exception:  # noqa: BLE001 - moto's own answer (unknown function) comes the client's way
                return through_client(parameters, region, state_credentials)
            recorder, role = audit_recorder(), getattr(state_credentials, "role_arn", None)
            if recorder is not None and role is not None and recorder.enabled:
                recorder.record(role, "lambda", "Invoke", parameters)
            headers: dict[str, str] = {}
            payload = backend.invoke(arn, None, parameters.get("Payload") or b"", {}, headers)
            if payload is None:
                return through_client(parameters, region, state_credentials)
            if len(payload) > LAMBDA_PAYLOAD_LIMIT:
                headers["x-amz-function-error"] = "Unhandled"
                payload = json.dumps(
                    {
                        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                        "errorType": "Function.ResponseSizeTooLarge",
                    }
                ).encode()
            body = payload.encode() if isinstance(payload, str) else payload
            response: dict[str, Any] = {
                "StatusCode": 200,
                "ExecutedVersion": "$LATEST",
                "Payload": lambda_eval_utils._from_payload(io.BytesIO(body)),
            }
            if "x-amz-function-error" in headers:
                response["FunctionError"] = headers["x-amz-function-error"]
            return response

        return _invoke_lambda_function

    replace(lambda_eval_utils, "_invoke_lambda_function", "direct-invoke", direct)


class _OneExecution:
    """Stands in for the backend in moto's ``send_task_*``: the executions it looks through are just one."""

    def __init__(self, execution: Any) -> None:
        self._execution = execution

    def _get_executions(self, execution_status: Any = None) -> list[Any]:
        return [self._execution]


def task_tokens_find_their_execution() -> None:
    """moto answers ``SendTaskSuccess``, ``SendTaskFailure`` and ``SendTaskHeartbeat`` by offering the token to
    every execution of every state machine it ever started, finished ones included (each one's status read):
    a submit's cost grew with the platform's history, one execution per ingested file. Each token is indexed
    when its execution hands it out; a call whose token names a running execution of this backend goes to that
    one execution, through moto's own method (its answers and errors). ``SendTaskSuccess`` with the token of one
    that ended (finished, stopped or parked) is refused as moto's look refuses it (``InvalidToken``: it offers
    tokens to running executions only) without the look. Any other token takes moto's whole look."""
    from moto.stepfunctions.parser.api import ExecutionStatus, InvalidToken
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    owner_of_token: weakref.WeakValueDictionary[str, CallbackPoolManager] = weakref.WeakValueDictionary()

    def indexed(add: Callable[..., Any]) -> Callable[..., Any]:
        def add_indexed(self: CallbackPoolManager, callback_id: str, *args: Any, **kwargs: Any) -> Any:
            endpoint = add(self, callback_id, *args, **kwargs)
            owner_of_token[callback_id] = self
            return endpoint

        return add_indexed

    def remembered(make_environment: Callable[..., Any]) -> Callable[..., Any]:
        def environment(self: ExecutionWorker) -> Any:
            env = make_environment(self)
            _worker_of_pool[env.callback_pool_manager] = self
            return env

        return environment

    def execution_of(backend: StepFunctionsParserBackend, token: str) -> Any:
        pool = owner_of_token.get(token)
        execution = _execution_of(_worker_of_pool.get(pool) if pool is not None else None)
        if execution is None or execution.account_id != backend.account_id:
            return None  # unknown, or another backend's: moto's look (which will not find it) answers
        return execution if execution.region_name == backend.region_name else None

    def straight(send: Callable[..., Any], *, running_only: bool) -> Callable[..., Any]:
        def send_to_its_execution(self: StepFunctionsParserBackend, task_token: str, *args: Any, **kwargs: Any) -> Any:
            execution = execution_of(self, task_token)
            if execution is not None and execution.exec_status == ExecutionStatus.RUNNING:
                return send(_OneExecution(execution), task_token, *args, **kwargs)
            if execution is not None and running_only:
                raise InvalidToken  # moto's look offers it to running executions only: none holds it
            return send(self, task_token, *args, **kwargs)

        return send_to_its_execution

    replace(CallbackPoolManager, "add", "token-index", indexed)
    replace(CallbackPoolManager, "add_activity_task", "token-index", indexed)
    replace(ExecutionWorker, "_get_evaluation_environment", "token-index", remembered)
    replace(
        StepFunctionsParserBackend, "send_task_success", "token-index", functools.partial(straight, running_only=True)
    )
    for name in ("send_task_failure", "send_task_heartbeat"):  # moto offers these to ended executions too
        replace(StepFunctionsParserBackend, name, "token-index", functools.partial(straight, running_only=False))


# an execution's callbacks (its environment's pool, shared by its frames) -> its worker
_worker_of_pool: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _execution_of(worker: Any) -> Any:
    """The execution an execution worker runs (None for none)."""
    return getattr(getattr(worker, "_execution_communication", None), "execution", None)


EXPRESS_EXECUTIONS_KEPT = 1000  # finished executions of an Express state machine the emulator keeps listed
STANDARD_EXECUTIONS_KEPT = 10_000  # and of a Standard one
PRUNE_EVERY = 200  # how many more it lets gather before it looks


def keep_the_newest_finished_executions() -> None:
    """moto keeps every execution it ever started, with its history and environment: at ingest, one Express
    execution per file (and four finished engine threads), for as long as the platform runs; a job, a Standard
    execution per file (~30 KB each once finished, twice that for a file whose execution was parked). AWS keeps
    no Express execution to list (their history goes to CloudWatch Logs), so the emulator keeps the newest
    ``EXPRESS_EXECUTIONS_KEPT`` finished ones of each Express machine (for a developer's look and the tests');
    AWS lists Standard ones for 90 days, which the emulator, keeping none across a restart, does not pretend to:
    it keeps the newest ``STANDARD_EXECUTIONS_KEPT`` finished ones of each Standard machine. Every running one
    is kept. The engine's list of finished threads is pruned with them."""
    from moto.stepfunctions.parser import utils as parser_utils
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    pruning_now = threading.Lock()

    def finished(execution: Any) -> bool:
        status = getattr(execution, "exec_status", None)  # None: appended by a start that has not started it yet
        return status is not None and status.value != "RUNNING"

    def prune(executions: list[Any], kept: int) -> None:
        ended = [e for e in list(executions) if finished(e)]
        for old in ended[: max(0, len(ended) - kept)]:
            with contextlib.suppress(ValueError):
                executions.remove(old)  # in place: other starts may be appending meanwhile
        for thread in [t for t in list(parser_utils.TMP_THREADS) if not t.is_alive()]:
            with contextlib.suppress(ValueError):
                parser_utils.TMP_THREADS.remove(thread)

    def pruning(start: Callable[..., Any]) -> Callable[..., Any]:
        def start_execution(self: StepFunctionsParserBackend, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
            execution = start(self, state_machine_arn, *args, **kwargs)
            machine = self.describe_state_machine(state_machine_arn)
            kept = EXPRESS_EXECUTIONS_KEPT if machine.type == "EXPRESS" else STANDARD_EXECUTIONS_KEPT
            if len(machine.executions) > kept + PRUNE_EVERY and pruning_now.acquire(blocking=False):  # others go on
                try:
                    prune(machine.executions, kept)
                finally:
                    pruning_now.release()
            return execution

        return start_execution

    replace(StepFunctionsParserBackend, "start_execution", "finished-pruned", pruning)


#: the engine's modules that deep-copy state data (``copy.deepcopy`` is all they use of ``copy``)
_ENGINE_COPYING = (
    "asl.component.common.string.string_expression",
    "asl.component.common.path.result_path",
    "asl.component.intrinsic.function.statesfunction.json_manipulation.json_merge",
    "asl.component.state.exec.state_map.state_map",
    "asl.component.state.exec.state_map.result_writer.result_writer_decl",
    "asl.component.state.exec.state_map.item_reader.item_reader_decl",
    "asl.component.state.exec.state_map.iteration.job",
    "asl.component.state.exec.state_task.service.state_task_service",
    "asl.component.state.exec.state_parallel.state_parallel",
    "asl.component.state.exec.execute_state",
    "asl.eval.states",
    "asl.eval.event.event_manager",
    "asl.eval.environment",
)


def plain_copy(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts, lists, strings, numbers, booleans, None) through ``marshal``, about
    a seventh of what ``copy.deepcopy`` costs; ``marshal`` refuses anything else (a subclass, a ``Decimal``, an
    object), which is deep-copied."""
    try:
        return marshal.loads(marshal.dumps(value))  # noqa: S302 - bytes made just now from this value
    except ValueError:
        return copy.deepcopy(value)


def copy_state_data_through_marshal() -> None:
    """moto's engine deep-copies a state's data at every turn: each read of the input, each JSONPath a
    ``Parameters`` block evaluates, each state's entry and exit (some 15% of the emulator's CPU at ingest,
    whose Map states carry batches of files). Those copies are made through the marshalled form
    (``plain_copy``): the same data, separate from the original."""
    for name in _ENGINE_COPYING:
        module = importlib.import_module(f"moto.stepfunctions.parser.{name}")
        replace(module, "copy", "marshal-copies", copy_module_with(plain_copy))


def evaluate_untimed_states_in_their_thread() -> None:
    """moto's engine runs a state machine's program in a thread of its own and waits for it, with the machine's
    ``TimeoutSeconds`` (none unless declared); and each Task, Map or Parallel state in another, waiting with the
    state's ``TimeoutSeconds`` (99,999,999 unless declared). Without a timeout to enforce, the waiting thread
    only waits: here the program or the state runs in the thread that would have waited (moto's own code, with
    the thread it would have started run in place: ``_InlineThread``), with the same outcome, answer and error.
    Likewise a Map over one item runs its one iteration in the Map's thread, not in a worker of its own (with
    more items the workers run at once, as moto runs them). A job's review execution (a Map over its file's
    slots, one without consensus) waiting on its task token held six threads (~80 KB of memory each) for as
    long as its file waits to be annotated, so a job over ~5,000 files ran this machine out of threads; it
    holds one now. A declared timeout keeps moto's thread and its wait. A stop wakes a wait for a task token
    (moto's program thread stopped waiting for the state's thread, which went on waiting): the execution ends
    ``ABORTED``, the woken task's failure (its history shows ``TaskTimedOut``) neither retried nor recorded as
    the execution's error."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (
        InlineIterationComponent,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def program_inline(evaluate: Callable[..., None]) -> Callable[..., None]:
        def eval_program(self: Program, env: Any) -> None:
            if self.timeout_seconds:
                return evaluate(self, env)
            env.next_state_name = self.start_at.start_at_name
            try:
                EvalComponent.eval(self, env)
            except Exception:  # noqa: BLE001 - what moto's program thread did with it: report it, end the thread
                threading.excepthook(threading.ExceptHookArgs((*sys.exc_info(), threading.current_thread())))
            return None

        return eval_program

    def untimed_inline(evaluate: Callable[..., None]) -> Callable[..., None]:
        def evaluate_with_timeout(self: Any, env: Any) -> None:
            timeout = self.timeout
            _untimed.next = (
                type(timeout) is TimeoutSeconds and timeout.timeout_seconds == TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS
            )
            try:
                return evaluate(self, env)
            finally:
                _untimed.next = False

        return evaluate_with_timeout

    def thread_or_inline(thread: type[threading.Thread]) -> Callable[..., Any]:
        def make(*args: Any, **kwargs: Any) -> Any:
            if getattr(_untimed, "next", False):
                _untimed.next = False  # the states this one evaluates decide for themselves
                return _InlineThread(kwargs["target"])
            return thread(*args, **kwargs)

        return make

    def one_item_inline(launch: Callable[..., Any]) -> Callable[..., Any]:
        def launch_worker(self: Any, env: Any, eval_input: Any, job_pool: Any) -> Any:
            if len(eval_input.input_items) > 1:
                return launch(self, env, eval_input, job_pool)
            worker = self._create_worker(env=env, eval_input=eval_input, job_pool=job_pool)
            worker.eval()
            return worker

        return launch_worker

    def interrupting(stop: Callable[..., None]) -> Callable[..., None]:
        def stop_then_interrupt(self: Any, stop_date: Any, error: Any, cause: Any) -> None:
            stop(self, stop_date=stop_date, error=error, cause=cause)
            pool = self.env.callback_pool_manager._pool  # noqa: SLF001 - moto lists an execution's callbacks only here
            for endpoint in list(pool.values()):
                endpoint.interrupt_all()  # a wait for a token in the program's own thread returns

        return stop_then_interrupt

    def stop_kept(set_error: Callable[..., None]) -> Callable[..., None]:
        def set_error_unless_stopped(self: Environment, error: Any) -> None:
            if not isinstance(self._program_state, ProgramStopped):  # noqa: SLF001 - the state set_stop sets
                set_error(self, error)

        return set_error_unless_stopped

    replace(Program, "eval", "in-its-thread", program_inline)
    replace(ExecutionWorker, "stop", "in-its-thread", interrupting)
    replace(Environment, "set_error", "in-its-thread", stop_kept)
    replace(InlineIterationComponent, "_launch_worker", "in-its-thread", one_item_inline)
    replace(execute_state.ExecutionState, "_evaluate_with_timeout", "in-its-thread", untimed_inline)
    replace(execute_state, "Thread", "in-its-thread", thread_or_inline)
    replace(execute_state, "TMP_THREADS", "in-its-thread", _ThreadsOnly)


_untimed = threading.local()  # .next: the thread the state being evaluated starts next runs in place


class _InlineThread:
    """What moto's engine starts to evaluate a state with no timeout: ``start`` runs the target right there,
    in the thread that would only have waited for it (the target reports its outcome as it did)."""

    def __init__(self, target: Callable[[], None]) -> None:
        self._target: Callable[[], None] | None = target

    def start(self) -> None:
        target, self._target = self._target, None
        if target is not None:
            target()

    def is_alive(self) -> bool:
        return False


class _ThreadsOnly:
    """moto's list of the engine's threads (``TMP_THREADS``), for the module that now starts some in place:
    those are not threads, so they are not listed."""

    def __init__(self, threads: list[Any]) -> None:
        self._threads = threads

    def append(self, thread: Any) -> None:
        if not isinstance(thread, _InlineThread):
            self._threads.append(thread)


WAITING_VARIABLE = "ANNOLAKE_LOCAL_WAITING_EXECUTIONS"
PARKED_ERROR = "Annolake.Parked"


class _Waiting:
    """How many executions wait on a task token in their own thread, and how many may."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # also held by every answer to a token: a park and an answer never cross
        self.count = 0
        self.limit = waiting_limit_from(os.environ)


def waiting_limit_from(environ: Any) -> int:
    raw = environ.get(WAITING_VARIABLE, "1000")
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(
            f"{WAITING_VARIABLE}={raw!r}: give how many executions may wait on a task token at once (>= 1)"
        )
    return int(raw)


waiting = _Waiting()


def park_executions_beyond_the_waiting_limit() -> None:
    """An execution waiting on a task token holds a thread and ~0.27 MB of the platform's memory for as long as
    its task stays open; a job over tens of thousands of files would run the machine out of threads (about
    30,000 here) and memory. At most ``waiting.limit`` executions wait at once
    (``ANNOLAKE_LOCAL_WAITING_EXECUTIONS``, default 1,000); one that would wait beyond that is parked instead:
    its task is open as any other (the token was handed out), and the execution ends ``ABORTED`` with the error
    ``Annolake.Parked``, as a restart ends every execution (they are not kept). An answer to its token is then
    refused as one to an execution that is gone (``TaskDoesNotExist`` or ``InvalidToken``), and the API starts
    the file's workflow again, which re-opens the same tasks and hands over what is already done: the same
    path that resumes a review after a restart. Only an untimed wait without heartbeats is parked (a declared
    timeout keeps its meaning). Parking and answering take one lock, so an answer either reaches the waiting
    execution or is refused, never lost."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackConsumerLeft,
        CallbackOutcomeTimedOut,
        CallbackPoolManager,
    )

    untimed = TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS

    def parking(evaluate: Callable[..., Any]) -> Callable[..., Any]:
        def eval_wait_for_task_token(
            self: Any, env: Any, timeout_seconds: int, callback_endpoint: Any, heartbeat_endpoint: Any
        ) -> Any:
            worker = _worker_of_pool.get(env.callback_pool_manager)
            if heartbeat_endpoint is not None or timeout_seconds != untimed or worker is None:
                return evaluate(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
            with waiting.lock:
                park = waiting.count >= waiting.limit and callback_endpoint.get_outcome() is None
                if park:
                    callback_endpoint.report(CallbackConsumerLeft())  # an answer from now on is refused
                else:
                    waiting.count += 1
            if park:
                _park(worker)
                return CallbackOutcomeTimedOut(callback_id=callback_endpoint.callback_id)
            try:
                return evaluate(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
            finally:
                with waiting.lock:
                    waiting.count -= 1

        return eval_wait_for_task_token

    def answered_apart_from_parking(notify: Callable[..., bool]) -> Callable[..., bool]:
        def notify_under_lock(self: CallbackPoolManager, callback_id: str, outcome: Any) -> bool:
            with waiting.lock:
                return notify(self, callback_id, outcome)

        return notify_under_lock

    replace(StateTaskServiceCallback, "_eval_wait_for_task_token", "parking", parking)
    replace(CallbackPoolManager, "notify", "parking", answered_apart_from_parking)


def _park(worker: Any) -> None:
    """End ``worker``'s execution as a stop does (``ABORTED``), saying why."""
    import datetime

    cause = (
        f"parked: {waiting.limit} executions already wait on a task token ({WAITING_VARIABLE}); the file's "
        "workflow starts again when its task is answered"
    )
    worker.stop(stop_date=datetime.datetime.now(tz=datetime.UTC), error=PARKED_ERROR, cause=cause)
    execution = _execution_of(worker)
    if execution is not None:
        execution.error, execution.cause = PARKED_ERROR, cause
