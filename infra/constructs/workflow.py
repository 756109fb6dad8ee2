"""Human workflow: the review state machine (one Standard execution per file in a job), the launch state
machine (a Map over chunks of a job's files), and the consumer that gives new files to the jobs watching
their dataset.

Review (Standard: executions wait for people, for days if need be)::

    PrepareFile -> AnnotateSlots (Map over consensus slots, or a video's segments: OpenAnnotateTask waits on a
                   task token; a segment sampled for review: OpenSegmentReviewTask, OpenSegmentReworkTask ...)
      -> CompletedBySubmit? yes -> FileDone (the one annotator's submit completed a file needing no review)
      -> ConsolidateSlots -> NeedsReview? no -> FileDone (ConsolidateSlots completed the file)
                                      yes -> OpenReviewTask (waits) -> ReviewDecision? approve -> CompleteFile
                                                   changes requested -> OpenReworkTask (waits) -> OpenReviewTask
    any error (after retries) -> RecordFailure -> ReviewFailed  (re-driven with POST /jobs/{id}/redrive)

Launch (Standard)::

    PlanLaunch -> LaunchChunks (Map, 4 at a time: StartChunkWorkflows) -> FinishLaunch;  errors -> FailLaunch -> Failed

Task tokens are stored in the task's DynamoDB item by OpenTask and used by the API's submit/review.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs import nag
from infra.constructs.events import DomainEvents
from infra.constructs.queues import stream_fed
from infra.constructs.service_function import FunctionDefaults, ServiceFunction
from infra.constructs.state_machine import LoggedStateMachine, lambda_step

LAUNCH_CONCURRENCY = 4
_STATE = {
    "project_id": sfn.JsonPath.string_at("$.project_id"),
    "job_id": sfn.JsonPath.string_at("$.job_id"),
    "file_id": sfn.JsonPath.string_at("$.file_id"),
}


def state_machine_arn(scope: Construct, name: str) -> str:
    """The ARN of a state machine by its (fixed) name: lets its own steps be granted callbacks without a cycle."""
    return Stack.of(scope).format_arn(
        service="states", resource="stateMachine", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        stage: str,
        table: dynamodb.ITable,
        media_bucket: s3.IBucket,
        events: DomainEvents,
    ) -> None:
        super().__init__(scope, construct_id)
        self._defaults = defaults
        self.review_name = f"annolake-{stage}-review"
        self.launch_name = f"annolake-{stage}-launch"
        self.review_arn = state_machine_arn(self, self.review_name)
        self.launch_arn = state_machine_arn(self, self.launch_name)
        self.review_executions_arn, self.launch_executions_arn = (
            Stack.of(self).format_arn(
                service="states",
                resource="execution",
                resource_name=f"{name}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for name in (self.review_name, self.launch_name)
        )
        env = {"REVIEW_STATE_MACHINE_ARN": self.review_arn}

        self.prepare = self._step("Prepare", "prepare_handler", "review: a file enters a job")
        self.open_task = self._step("OpenTask", "open_task_handler", "review: open a task and keep its token")
        self.consolidate = self._step(
            "Consolidate", "consolidate_handler", "review: merge consensus, sample review, complete if none"
        )
        self.complete = self._step("Complete", "complete_handler", "review: the file is done in the job")
        self.fail = self._step("Fail", "fail_handler", "review: record why the file's workflow failed")
        self.plan_launch = self._step("PlanLaunch", "plan_launch_handler", "launch: list the job's files", minutes=5)
        self.launch_chunk = self._step(
            "LaunchChunk", "launch_chunk_handler", "launch: start a chunk of review workflows", minutes=10, env=env
        )
        self.finish_launch = self._step("FinishLaunch", "finish_launch_handler", "launch: done")
        self.fail_launch = self._step("FailLaunch", "fail_launch_handler", "launch: record a failure")
        self.file_ingested = self._step(
            "FileIngested", "file_ingested_handler", "workflow: new files to the jobs watching them", env=env
        )
        steps = (
            self.prepare,
            self.open_task,
            self.consolidate,
            self.complete,
            self.fail,
            self.plan_launch,
            self.launch_chunk,
            self.finish_launch,
            self.fail_launch,
            self.file_ingested,
        )
        for step in steps:
            table.grant_read_write_data(step.function)
        for step in (self.open_task, self.finish_launch):
            events.grant_publish(step.function)  # task_created; job_completed of a job launched over no files
        media_bucket.grant_read_write(self.plan_launch.function)
        media_bucket.grant_read(self.launch_chunk.function)
        # OpenTask hands over the recorded result when a re-driven workflow reaches a task already done.
        self.open_task.function.add_to_role_policy(
            iam.PolicyStatement(actions=["states:SendTaskSuccess"], resources=[self.review_arn])
        )
        for step in (self.launch_chunk, self.file_ingested):
            step.function.add_to_role_policy(
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[self.review_arn])
            )
        self._acknowledge_steps(steps, table, media_bucket)

        self.review_state_machine = self._state_machine(
            "Review", self.review_name, stage, self._review_definition(), "one execution per file in a job"
        )
        self.launch_state_machine = self._state_machine(
            "Launch", self.launch_name, stage, self._launch_definition(), "one execution per job launch"
        )
        self.progress = self._step(
            "Progress", "progress_handler", "workflow: announce tasks submitted and files completed, count jobs done"
        )
        table.grant_read_write_data(self.progress.function)  # the job's counters and its exact completion check
        events.grant_publish(self.progress.function)
        self._acknowledge_steps((self.progress,), table, media_bucket)
        # Only the changes that announce something reach it: a task's item becoming submitted, a job file's complete
        # (the function still ignores a record that only looks like one: a submitted task written again).
        self.progress_dead_letter_queue = stream_fed(
            self,
            dead_letters_id="ProgressDeadLetters",
            function=self.progress.function,
            table=table,
            filters=[
                lambda_.FilterCriteria.filter(
                    {
                        "dynamodb": {
                            "NewImage": {
                                "kind": {"S": lambda_.FilterRule.is_equal(kind)},
                                "status": {"S": lambda_.FilterRule.is_equal(status)},
                            }
                        }
                    }
                )
                for kind, status in (("task", "submitted"), ("job_file", "complete"))
            ],
        )
        # A bulk ingest emits one event per file: gathered for a second, they reach the jobs ten to an invocation.
        self.file_ingested_queue = events.subscribe(
            "FileIngested",
            self.file_ingested.function,
            detail_types=["file_ingested"],
            max_batching_window=Duration.seconds(1),
        )

    # --- functions ------------------------------------------------------------------------

    def _step(
        self, construct_id: str, handler: str, description: str, *, minutes: int = 1, env: dict | None = None
    ) -> ServiceFunction:
        return ServiceFunction(
            self,
            construct_id,
            defaults=self._defaults,
            handler=f"annolake_service.handlers.workflow.{handler}",
            description=description,
            memory_size=512,
            timeout=Duration.minutes(minutes),
            environment=env,
        )

    def _acknowledge_steps(self, steps: tuple[ServiceFunction, ...], table: dynamodb.ITable, media: s3.IBucket) -> None:
        for step in steps:
            findings = [nag.indexes_of(self, table)]
            if step in (self.plan_launch, self.launch_chunk):
                findings += [*nag.S3_READ_ACTIONS, nag.objects_of(self, media)]
            if step is self.plan_launch:
                findings += list(nag.S3_WRITE_ACTIONS)
            nag.acknowledge(
                step.role,
                "IAM5",
                "The DynamoDB data grant on the single table covers its GSIs (task queues and assignees); the "
                "launch steps read and write chunk objects under the media bucket's jobs/ prefix, keys known at "
                "run time.",
                findings=findings,
            )

    # --- state machines -------------------------------------------------------------------

    def _state_machine(
        self, construct_id: str, name: str, stage: str, definition: sfn.IChainable, comment: str
    ) -> sfn.StateMachine:
        return LoggedStateMachine(
            self,
            f"{construct_id}StateMachine",
            defaults=self._defaults,
            log_name=name,
            log_group_id=f"{construct_id}Logs",
            state_machine_name=name,
            comment=f"Annolake {stage} {construct_id.lower()}: {comment}",
            definition=definition,
            state_machine_type=sfn.StateMachineType.STANDARD,
            steps=self.review_steps if construct_id == "Review" else self.launch_steps,
        ).state_machine

    @property
    def review_steps(self) -> tuple[ServiceFunction, ...]:
        return (self.prepare, self.open_task, self.consolidate, self.complete, self.fail)

    @property
    def launch_steps(self) -> tuple[ServiceFunction, ...]:
        return (self.plan_launch, self.launch_chunk, self.finish_launch, self.fail_launch)

    def _invoke(self, state_id: str, step: ServiceFunction, **props) -> tasks.LambdaInvoke:
        return lambda_step(self, state_id, step, **props)

    def _wait_for_task(self, state_id: str, kind: str, fields: dict) -> tasks.LambdaInvoke:
        """OpenTask with the execution's token; the state's result is what submit/review hands back."""
        return self._invoke(
            state_id,
            self.open_task,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object({**_STATE, "kind": kind, "token": sfn.JsonPath.task_token, **fields}),
            result_path="$",
        )

    def _review_definition(self) -> sfn.IChainable:
        failed = self._invoke(
            "RecordFailure",
            self.fail,
            payload=sfn.TaskInput.from_object({**_STATE, "error": sfn.JsonPath.object_at("$.error")}),
            result_path=sfn.JsonPath.DISCARD,
        ).next(sfn.Fail(self, "ReviewFailed", error="WorkflowFailed", cause="see the file's failure in the job"))

        prepare = self._invoke("PrepareFile", self.prepare, payload_response_only=True, result_path="$")
        slots = sfn.Map(
            self,
            "AnnotateSlots",
            items_path="$.slots",
            item_selector={**_STATE, "slot": sfn.JsonPath.string_at("$$.Map.Item.Value")},
            result_path="$.annotated",
        )
        slots.item_processor(
            self._wait_for_task(
                "OpenAnnotateTask", "annotate", {"slot": sfn.JsonPath.string_at("$.slot"), "round": 0}
            ).next(self._segment_review())
        )
        consolidate = self._invoke(
            "ConsolidateSlots",
            self.consolidate,
            payload=sfn.TaskInput.from_object({**_STATE, "annotated": sfn.JsonPath.list_at("$.annotated")}),
            payload_response_only=True,
            result_path="$",
        )
        review = self._wait_for_task(
            "OpenReviewTask",
            "review",
            {"round": sfn.JsonPath.number_at("$.round"), "authors": sfn.JsonPath.list_at("$.authors")},
        )
        rework = self._wait_for_task(
            "OpenReworkTask",
            "annotate",
            {
                "round": sfn.JsonPath.number_at("$.next_round"),
                "authors": sfn.JsonPath.list_at("$.authors"),
                "send_back_to": sfn.JsonPath.string_at("$.send_back_to"),
                "comment": sfn.JsonPath.string_at("$.comment"),
            },
        )
        complete = self._invoke(
            "CompleteFile", self.complete, payload=sfn.TaskInput.from_object(_STATE), result_path=sfn.JsonPath.DISCARD
        )
        for state in (prepare, slots, consolidate, review, rework, complete):
            state.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        done = sfn.Succeed(self, "FileDone")
        complete.next(done)

        decision = (
            sfn.Choice(self, "ReviewDecision")
            .when(sfn.Condition.string_equals("$.decision", "request_changes"), rework.next(review))
            .otherwise(complete)
        )
        needs_review = (
            sfn.Choice(self, "NeedsReview")
            .when(sfn.Condition.boolean_equals("$.review", True), review.next(decision))
            .otherwise(done)  # no review: ConsolidateSlots completed the file (two state transitions fewer)
        )
        submitted = "$.annotated[0].completed"  # absent from a video segment's review, hence IsPresent first
        completed_by_submit = (
            sfn.Choice(self, "CompletedBySubmit")
            .when(
                sfn.Condition.and_(sfn.Condition.is_present(submitted), sfn.Condition.boolean_equals(submitted, True)),
                done,
            )
            .otherwise(consolidate.next(needs_review))
        )
        return prepare.next(slots).next(completed_by_submit)

    def _segment_review(self) -> sfn.IChainable:
        """In an annotate slot: a video segment sampled for review is reviewed (and reworked) on its own."""
        slot = {"slot": sfn.JsonPath.number_at("$.slot")}
        review = self._wait_for_task(
            "OpenSegmentReviewTask",
            "review",
            {**slot, "round": sfn.JsonPath.number_at("$.round"), "authors": sfn.JsonPath.list_at("$.authors")},
        )
        rework = self._wait_for_task(
            "OpenSegmentReworkTask",
            "annotate",
            {
                **slot,
                "round": sfn.JsonPath.number_at("$.next_round"),
                "authors": sfn.JsonPath.list_at("$.authors"),
                "send_back_to": sfn.JsonPath.string_at("$.send_back_to"),
                "comment": sfn.JsonPath.string_at("$.comment"),
            },
        )
        done = sfn.Pass(self, "SlotDone")
        decision = (
            sfn.Choice(self, "SegmentReviewDecision")
            .when(sfn.Condition.string_equals("$.decision", "request_changes"), rework.next(review))
            .otherwise(done)
        )
        sampled = sfn.Condition.and_(
            sfn.Condition.is_present("$.review"), sfn.Condition.boolean_equals("$.review", True)
        )
        return sfn.Choice(self, "SegmentSampled").when(sampled, review.next(decision)).otherwise(done)

    def _launch_definition(self) -> sfn.IChainable:
        job = {"project_id": sfn.JsonPath.string_at("$.project_id"), "job_id": sfn.JsonPath.string_at("$.job_id")}
        failed = self._invoke(
            "FailLaunchStep",
            self.fail_launch,
            payload=sfn.TaskInput.from_object({**job, "error": sfn.JsonPath.object_at("$.error")}),
            result_path=sfn.JsonPath.DISCARD,
        ).next(sfn.Fail(self, "LaunchFailed", error="LaunchFailed", cause="see the job's launch status"))
        plan = self._invoke("PlanLaunchStep", self.plan_launch, payload_response_only=True, result_path="$.plan")
        chunks = sfn.Map(
            self,
            "LaunchChunks",
            items_path="$.plan.chunks",
            item_selector={**job, "chunk_key": sfn.JsonPath.string_at("$$.Map.Item.Value")},
            max_concurrency=LAUNCH_CONCURRENCY,
            result_path=sfn.JsonPath.DISCARD,
        )
        chunks.item_processor(
            self._invoke(
                "StartChunkWorkflows", self.launch_chunk, payload_response_only=True, result_path=sfn.JsonPath.DISCARD
            )
        )
        finish = self._invoke(
            "FinishLaunchStep",
            self.finish_launch,
            payload=sfn.TaskInput.from_object(job),
            result_path=sfn.JsonPath.DISCARD,
        )
        for state in (plan, chunks, finish):
            state.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        return plan.next(chunks).next(finish).next(sfn.Succeed(self, "Launched"))
