"""What the local emulator changes in moto when it starts: safety under threads, and speed.

Each change is installed once per process by ``install()`` (``patching.replace`` marks what it installed, so a
second ``Emulator`` in the same process changes nothing twice); results are unchanged, only cost and thread
safety. Every patch refuses to install on a moto release other than ``MOTO_VERSION`` (``patching``).

- DynamoDB operations are serialized: moto's are not safe against concurrent writes, nor a read against a
  write (a query sorting items while an update removes an index attribute; a GetItem serialized while the
  item changes, so it returns a snapshot of the attribute map taken under the lock).
- Transactions check every condition before writing and copy only the items they touch (moto deep-copies
  the whole table per transaction item).
- Queries copy the items they answer after filtering and projecting, not every item read before.
- A projection of top-level attributes copies those attributes (moto converted the whole item per name).
- Queries on a table's own key read only the partition asked for: moto sorts the whole table on every
  query, which makes a dataset page cost O(table) instead of O(page), as DynamoDB does. Index queries look up
  the items holding their hash key in maps that every write keeps current (moto keeps no index and read
  every item); one with a ``Limit`` reads its page from the index partition kept in the index's order (moto
  sorted the whole partition per query).
- State machine definitions parse safely in parallel (moto's parser shared one scope stack), and each definition's
  text is parsed once, not at the start of every execution. A task whose Lambda invocation itself fails (throttled,
  service error) gets the error name Step Functions gives it, which Retry matches. A state's input (as it enters,
  and a task's once its Parameters are evaluated) and output over 256 KB fail with ``States.DataLimitExceeded``;
  exactly 256 KB passes. A task token is answered by the execution that handed it out, not offered to every
  execution ever started. An Express state machine keeps its newest 1,000 finished executions, not every one (AWS
  keeps none to list), a Standard one its newest 10,000. State data is copied through ``marshal``, not
  ``copy.deepcopy``. A program or state with no timeout runs in the thread that would have waited for it, and at
  most ``ANNOLAKE_LOCAL_WAITING_EXECUTIONS`` executions wait on a task token at once (others are parked: ended, and
  started again by the API when their task is answered).
- S3 event records carry a sequencer, so a second PUT of the same bytes under a key is a new event; a completed
  multipart upload is one event (moto announced a ``Put`` as well). A
  bucket listing that races a delete lists what the bucket held when it began (moto raised ``KeyError``).
- The Step Functions engine reuses one client per service; per-account backends are read straight from their
  dict; DynamoDB item answers skip the generic shape serializer, and a read snapshot's size is computed once;
  JSON answers are not scanned for an XML request id, which is drawn in one call; EventBridge reuses parsed
  JSONPaths; the service lookup per request is memoized; the engine parses each JSONPath text once; moto lists
  a response class's actions once, not per request, and builds no debug-mode wrapper around each request's
  (empty) ``files``.
- An ``UpdateItem``'s expression tree is copied by pickling, and the checks walking it ask each node's class
  once what it is (moto asks each node, through ``abc``): the same checks, in the same order. Each update
  expression text is parsed once and each condition expression text lexed once; a condition's syntax tree is
  built once per text, names and value names, and each parse puts its own values in. The item an update
  changes is copied for its old image through the marshalled form, not ``copy.deepcopy``. Every write of a text
  gets the one tree kept for it (moto only reads it) and its checks a copy loaded from the tree's pickled bytes.
  An expression of only ``SET`` of top-level attributes to values and ``REMOVE`` of top-level attributes is
  checked and applied from its plan, without the walks (its first write of each text and names, and any write
  a plan cannot decide, take moto's walks).
- moto's models keep no list of every instance they made (its dashboard's): a platform left running held
  every DynamoDB item any request had read, updated or copied, and every S3 object deleted or overwritten.
- Items of tables with a sort key are kept as compressed bytes (about a thirtieth of moto's objects) and
  decoded when an operation reads them; a write's items stay live until it ends. A new item's size is checked
  once, on the whole item, and an updated item's once, after the update's actions (moto re-measured the item
  per attribute set); an update over the limit leaves the item as it was.
- DynamoDB requests reach moto's handler without its Flask app (``DirectDynamoDB``, a WSGI layer the emulator
  puts in front of moto's dispatcher): the same answers, without a request context and a response object each.
  Signed path-style S3 requests reach moto's S3 views the same way (``DirectS3``), answered through moto's
  response class.
- An update expression's clause counts, overlapping paths and key attributes are checked once per text, names
  and table keys. SQS converts each queue attribute name from CamelCase once. DynamoDB item operations without
  a binary value are read with ``json.loads`` rather than moto's shape-walking parser (the same parameters).
- The table of a service's error shapes is built once, not for every error answered.
- String attribute values (every key the platform writes) are hashed and compared on their text, not through
  moto's ``cast_value``.
- UTC ISO 8601 timestamps (S3's) are read without ``dateutil`` by moto's answer serializer and by the response
  parsers of this process's botocore clients.
"""

from __future__ import annotations

from infra.local.moto_patches.dynamodb_answers import plain_dynamodb_item_answers
from infra.local.moto_patches.dynamodb_compact import (
    compact_table_items,
    copy_items_written_over_through_marshal,
    measure_new_items_once,
    measure_updated_items_once,
)
from infra.local.moto_patches.dynamodb_locking import serialize_dynamodb_operations
from infra.local.moto_patches.dynamodb_projection import project_top_level_attributes
from infra.local.moto_patches.dynamodb_queries import copy_query_results_after_filtering, index_base_table_queries
from infra.local.moto_patches.dynamodb_transactions import two_phase_transactions
from infra.local.moto_patches.dynamodb_types import compare_strings_directly
from infra.local.moto_patches.dynamodb_update_plans import apply_bound_plans_directly
from infra.local.moto_patches.dynamodb_updates import (
    check_each_text_once,
    copy_update_expressions_by_pickling,
    find_clauses_by_class,
    parse_each_condition_once,
    parse_each_expression_text_once,
    walk_update_expressions_by_class,
)
from infra.local.moto_patches.events import (
    one_event_per_multipart_upload,
    reuse_parsed_json_paths,
    s3_events_carry_a_sequencer,
)
from infra.local.moto_patches.instances import keep_no_model_instances
from infra.local.moto_patches.patching import MOTO_VERSION, MotoVersionError, replace, require_moto_version
from infra.local.moto_patches.request_path import (
    DirectDynamoDB,
    DirectS3,
    action_names_once_per_class,
    dynamodb_item_requests_read_as_json,
    error_shapes_looked_up_once,
    fast_backend_access,
    memoize_backend_lookup,
    no_debug_form_wrapper,
    random_strings_in_one_draw,
    request_ids_only_where_xml_has_them,
)
from infra.local.moto_patches.s3_keys import s3_listings_survive_concurrent_deletes
from infra.local.moto_patches.sqs import queue_attribute_names_converted_once
from infra.local.moto_patches.step_functions import (
    copy_state_data_through_marshal,
    definite_paths_give_their_value,
    evaluate_untimed_states_in_their_thread,
    invoke_task_functions_directly,
    keep_the_newest_finished_executions,
    name_lambda_service_errors_as_step_functions_does,
    park_executions_beyond_the_waiting_limit,
    parse_each_json_path_once,
    parse_each_state_machine_once,
    reuse_step_functions_clients,
    step_functions_payload_limit,
    task_tokens_find_their_execution,
    thread_safe_state_machine_parsing,
)
from infra.local.moto_patches.timestamps import fast_utc_timestamps

__all__ = [
    "MOTO_VERSION",
    "DirectDynamoDB",
    "DirectS3",
    "MotoVersionError",
    "check_each_text_once",
    "compact_table_items",
    "compare_strings_directly",
    "copy_items_written_over_through_marshal",
    "copy_query_results_after_filtering",
    "copy_state_data_through_marshal",
    "copy_update_expressions_by_pickling",
    "fast_utc_timestamps",
    "find_clauses_by_class",
    "index_base_table_queries",
    "invoke_task_functions_directly",
    "install",
    "keep_the_newest_finished_executions",
    "keep_no_model_instances",
    "action_names_once_per_class",
    "apply_bound_plans_directly",
    "definite_paths_give_their_value",
    "dynamodb_item_requests_read_as_json",
    "error_shapes_looked_up_once",
    "evaluate_untimed_states_in_their_thread",
    "measure_new_items_once",
    "measure_updated_items_once",
    "memoize_backend_lookup",
    "no_debug_form_wrapper",
    "one_event_per_multipart_upload",
    "random_strings_in_one_draw",
    "parse_each_condition_once",
    "parse_each_expression_text_once",
    "parse_each_json_path_once",
    "parse_each_state_machine_once",
    "project_top_level_attributes",
    "queue_attribute_names_converted_once",
    "replace",
    "require_moto_version",
    "s3_events_carry_a_sequencer",
    "s3_listings_survive_concurrent_deletes",
    "serialize_dynamodb_operations",
    "task_tokens_find_their_execution",
    "thread_safe_state_machine_parsing",
    "two_phase_transactions",
    "walk_update_expressions_by_class",
]


def install() -> None:
    """Every change above (``memoize_backend_lookup`` and ``invoke_task_functions_directly`` aside: they take the
    emulator's dispatcher and fault rules, so the emulator installs them)."""
    require_moto_version()
    thread_safe_state_machine_parsing()
    parse_each_state_machine_once()
    name_lambda_service_errors_as_step_functions_does()
    step_functions_payload_limit()
    task_tokens_find_their_execution()
    keep_the_newest_finished_executions()
    evaluate_untimed_states_in_their_thread()
    park_executions_beyond_the_waiting_limit()
    copy_state_data_through_marshal()
    s3_events_carry_a_sequencer()
    one_event_per_multipart_upload()
    s3_listings_survive_concurrent_deletes()
    two_phase_transactions()
    compact_table_items()  # before the lock: a write's items are stored again while it holds the lock
    copy_items_written_over_through_marshal()
    serialize_dynamodb_operations()
    measure_new_items_once()
    measure_updated_items_once()
    index_base_table_queries()
    reuse_step_functions_clients()
    fast_backend_access()
    plain_dynamodb_item_answers()
    copy_query_results_after_filtering()
    project_top_level_attributes()
    reuse_parsed_json_paths()
    request_ids_only_where_xml_has_them()
    parse_each_json_path_once()
    definite_paths_give_their_value()
    action_names_once_per_class()
    no_debug_form_wrapper()
    random_strings_in_one_draw()
    copy_update_expressions_by_pickling()
    walk_update_expressions_by_class()
    parse_each_expression_text_once()
    parse_each_condition_once()
    find_clauses_by_class()
    check_each_text_once()
    fast_utc_timestamps()
    keep_no_model_instances()
    queue_attribute_names_converted_once()
    dynamodb_item_requests_read_as_json()
    compare_strings_directly()
    error_shapes_looked_up_once()
