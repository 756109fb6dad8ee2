"""Ingest: S3 object-created events -> an SQS queue -> trigger function -> one ingest execution per batch.

    ProcessArrivals (Map, each arrival):
        ProcessMedia -> IsVideo? -(video)-> StartVideoIngest -> HandedToVideoIngest
              \\            \\-(image)-> Processed
               \\____________\\____(any error)____> QuarantineFile -> Quarantined
    -> RegisterFiles -> Ingested
          \\____(any error, out of retries)____> QuarantineUnregistered -> RegistrationsQuarantined

The queue gathers a burst's notifications into batches (up to ``BATCH_SIZE``, for up to ``BATCH_WINDOW``), so
a thousand dropped photos are a hundred executions: one start, one registration step, one dataset read, one
``PutEvents`` and one ``DeleteObjects`` for each batch, where each photo had its own. ProcessMedia still runs
once per arrival (side by side): it reads an image whole; a video it only recognises (its first bytes) and
hands to the video ingest state machine (``video_ingest.py``: Standard, its frames extracted in segments side
by side), which registers or quarantines it in its turn. RegisterFiles records the batch's images; one that
cannot be recorded is quarantined by the step itself, with why.

Executions carry keys only (``{"arrivals": [{"bucket", "key", "size", "etag", "source"}, ...]}``); each
step's result lands beside its arrival (``media``, ``video``, ``error``, ``quarantine``).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs import nag
from infra.constructs.events import DomainEvents
from infra.constructs.queues import batched_queue
from infra.constructs.service_function import FunctionDefaults, ServiceFunction
from infra.constructs.state_machine import LoggedStateMachine, lambda_step
from infra.constructs.storage import QUARANTINE_PREFIX, UPLOADS_PREFIX
from infra.constructs.video_ingest import VideoIngest

STEP_TIMEOUT = Duration.seconds(60)
BATCH_SIZE = 10  # arrivals in one execution: a step registers them one after the other
BATCH_WINDOW = Duration.seconds(1)  # the longest a lone arrival waits for others


class Ingest(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        defaults: FunctionDefaults,
        stage: str,
        table: dynamodb.ITable,
        media_bucket: s3.IBucket,
        drop_bucket: s3.IBucket,
        events: DomainEvents,
    ) -> None:
        super().__init__(scope, construct_id)
        self._defaults = defaults
        self.process = self._step("Process", "process_handler", "ingest: inspect media, store original + thumbnail")
        self.register = self._step("Register", "register_handler", "ingest: record the file and its pre-labels")
        self.quarantine = self._step("Quarantine", "quarantine_handler", "ingest: keep a rejected file and why")
        self.hand_over = self._step("HandOver", "hand_over_video_handler", "ingest: start a video's own ingest")
        self.video = VideoIngest(
            self,
            "Video",
            defaults=defaults,
            stage=stage,
            table=table,
            media_bucket=media_bucket,
            drop_bucket=drop_bucket,
            events=events,
        )
        self._grant_steps(table, media_bucket, drop_bucket)
        events.grant_publish(self.register.function)  # file_ingested

        machine = LoggedStateMachine(
            self,
            "StateMachine",
            defaults=defaults,
            log_name=f"annolake-{stage}-ingest",
            comment="Annolake ingest: one execution per batch of arrived files",
            definition=self._definition(),
            # EXPRESS: one short execution per file at S3-event volume; Standard would bill per transition.
            state_machine_type=sfn.StateMachineType.EXPRESS,
            timeout=Duration.minutes(5),
            include_execution_data=True,
            steps=(self.process, self.hand_over, self.register, self.quarantine),
        )
        self.log_group, self.state_machine = machine.log_group, machine.state_machine
        self.hand_over.function.add_environment(
            "VIDEO_INGEST_STATE_MACHINE_ARN", self.video.state_machine.state_machine_arn
        )
        self.video.state_machine.grant_start_execution(self.hand_over.function)

        self.trigger = ServiceFunction(
            self,
            "Trigger",
            defaults=defaults,
            handler="annolake_service.handlers.object_created.handler",
            description="ingest: S3 object created -> start the ingest state machine",
            timeout=Duration.seconds(30),
            environment={"INGEST_STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
        )
        self.arrivals, self.dead_letter_queue = batched_queue(
            self,
            queue_id="Arrivals",  # SSE-SQS: S3 notifications can reach it (a KMS key would need a key policy)
            dead_letters_id="TriggerDeadLetterQueue",
            function=self.trigger.function,
            batch_size=BATCH_SIZE,
            max_batching_window=BATCH_WINDOW,
            max_receive_count=3,
        )
        self.state_machine.grant_start_execution(self.trigger.function)
        # A sidecar arriving after its image is attached by the trigger itself (services/ingest.py).
        table.grant_read_write_data(self.trigger.function)
        for bucket in (drop_bucket, media_bucket):
            bucket.grant_read(self.trigger.function)
            bucket.grant_delete(self.trigger.function)
        media_bucket.grant_put(self.trigger.function, QUARANTINE_PREFIX + "*")  # a sidecar that cannot be attached
        nag.acknowledge(
            self.trigger.role,
            "IAM5",
            "Late sidecars: S3 object reads/deletes on keys users choose at run time, writes only under quarantine/; "
            "the DynamoDB data grant on the single table covers its GSIs.",
            findings=[
                *nag.S3_READ_ACTIONS,
                *nag.S3_WRITE_ACTIONS,
                nag.objects_of(self, media_bucket),
                nag.objects_of(self, drop_bucket),
                nag.objects_of(self, media_bucket, QUARANTINE_PREFIX),
                nag.indexes_of(self, table),
            ],
        )
        destination = s3n.SqsDestination(self.arrivals)
        drop_bucket.add_event_notification(s3.EventType.OBJECT_CREATED, destination)
        media_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, destination, s3.NotificationKeyFilter(prefix=UPLOADS_PREFIX)
        )

    def _step(self, construct_id: str, handler: str, description: str) -> ServiceFunction:
        return ServiceFunction(
            self,
            construct_id,
            defaults=self._defaults,
            handler=f"annolake_service.handlers.ingest.{handler}",
            description=description,
            memory_size=1024,
            timeout=STEP_TIMEOUT,
        )

    def _grant_steps(self, table: dynamodb.ITable, media: s3.IBucket, drop: s3.IBucket) -> None:
        """What each handler does (services/ingest.py), and nothing more.

        process reads the arrival (drop bucket, or uploads/ in the media bucket) and writes the original
        and thumbnail to the media bucket; register reads the sidecar beside the arrival, records the file
        and deletes the arrival; quarantine copies the arrival under quarantine/, records it, deletes it.
        """
        process, register, quarantine = (f.function for f in (self.process, self.register, self.quarantine))
        drop.grant_read(process)
        media.grant_read_write(process)
        table.grant_read_write_data(register)
        for bucket in (drop, media):
            bucket.grant_read(register)
            bucket.grant_delete(register)
        media.grant_put(register, QUARANTINE_PREFIX + "*")  # a sidecar that landed during registration, refused
        table.grant_read_write_data(quarantine)
        drop.grant_read_write(quarantine)
        media.grant_read_write(quarantine)

        objects = (nag.objects_of(self, media), nag.objects_of(self, drop))
        s3_reason = (
            "S3 object grants on the drop and media buckets: users and the ingest choose object keys at run time"
        )
        nag.acknowledge(
            self.process.role,
            "IAM5",
            f"{s3_reason}.",
            findings=[*nag.S3_READ_ACTIONS, *nag.S3_WRITE_ACTIONS, *objects],
        )
        refused_sidecars = nag.objects_of(self, media, QUARANTINE_PREFIX)  # register's only S3 writes
        for step, granted in ((self.register, (refused_sidecars,)), (self.quarantine, ())):
            nag.acknowledge(
                step.role,
                "IAM5",
                f"{s3_reason}; DynamoDB data grant on the single table covers its GSIs (<table arn>/index/*).",
                findings=[*nag.S3_READ_ACTIONS, *nag.S3_WRITE_ACTIONS, *objects, *granted, nag.indexes_of(self, table)],
            )

    def _invoke(self, state_id: str, step: ServiceFunction, result_path: str) -> tasks.LambdaInvoke:
        return lambda_step(self, state_id, step, payload_response_only=True, result_path=result_path)

    def _definition(self) -> sfn.IChainable:
        quarantine = self._invoke("QuarantineFile", self.quarantine, "$.quarantine").next(
            # A quarantined file is a recorded, handled outcome, not a failed execution.
            sfn.Succeed(self, "Quarantined")
        )
        process = self._invoke("ProcessMedia", self.process, "$.media")
        video = self._invoke("StartVideoIngest", self.hand_over, "$.video")  # started, not waited for
        for task in (process, video):
            task.add_catch(quarantine, errors=["States.ALL"], result_path="$.error")
        video.next(sfn.Succeed(self, "HandedToVideoIngest"))
        is_video = sfn.Condition.and_(
            sfn.Condition.is_present("$.media.media_type"), sfn.Condition.string_equals("$.media.media_type", "video")
        )
        each = sfn.Map(
            self,
            "ProcessArrivals",
            items_path="$.arrivals",
            result_path="$.arrivals",  # each arrival with what its steps answered
            max_concurrency=BATCH_SIZE,
        )
        each.item_processor(
            process.next(sfn.Choice(self, "IsVideo").when(is_video, video).otherwise(sfn.Succeed(self, "Processed")))
        )
        arrivals = sfn.TaskInput.from_object({"arrivals": sfn.JsonPath.object_at("$.arrivals")})
        register = lambda_step(
            self, "RegisterFiles", self.register, payload=arrivals, payload_response_only=True, result_path="$.files"
        )
        unregistered = lambda_step(
            self,
            "QuarantineUnregistered",
            self.quarantine,
            payload=sfn.TaskInput.from_object(
                {"arrivals": sfn.JsonPath.object_at("$.arrivals"), "error": sfn.JsonPath.object_at("$.error")}
            ),
            payload_response_only=True,
            result_path="$.quarantined",
        )
        register.add_catch(unregistered, errors=["States.ALL"], result_path="$.error")
        unregistered.next(sfn.Succeed(self, "RegistrationsQuarantined"))
        return each.next(register.next(sfn.Succeed(self, "Ingested")))
