"""Video ingest: a Standard state machine (a long video's frames take longer than an Express execution's 5
minutes, and than one Lambda's 15) with a Map over segments of frames, started by the ingest state machine.

    ProbeVideo -> ExtractSegments (Map, 16 at a time: ExtractSegment) -> FinishVideo -> VideoIngested
         \\____________\\______________(any error)______________> DiscardVideo -> VideoQuarantined

ProbeVideo reads the container without decoding (timestamps, keyframes, limits) and stores the original,
poster and timestamps; each ExtractSegment decodes its frames from the keyframe before them and stores their
chunks; FinishVideo checks every chunk is stored and registers the file; DiscardVideo removes what a refused
video stored and quarantines it (a handled outcome: the execution succeeds).
"""

from __future__ import annotations

from aws_cdk import Duration, Size
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs import nag
from infra.constructs.dependency_layer import DependencyLayer
from infra.constructs.events import DomainEvents
from infra.constructs.service_function import FunctionDefaults
from infra.constructs.state_machine import MapJob, MapJobConstruct, map_job
from infra.constructs.storage import QUARANTINE_PREFIX

SEGMENT_CONCURRENCY = 16
HANDLERS = "annolake_service.handlers.video"
DECODER_MEMORY = 10240  # 6 vCPUs: the decoder's threads and the JPEG encoders run on all of them


class VideoIngest(MapJobConstruct):
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
        super().__init__(scope, construct_id, defaults=defaults, handlers=HANDLERS, memory_size=1024)
        self.layer = DependencyLayer(
            self,
            "Layer",
            removal_policy=defaults.removal_policy,
            layer="video",
            description="Annolake video steps: PyAV (FFmpeg's libraries in its wheel) and the service's dependencies",
        ).layer
        decoder = {
            "memory_size": DECODER_MEMORY,
            "ephemeral_storage_size": Size.gibibytes(4),  # the downloaded original (VIDEO_MAX_BYTES: 2 GiB)
            "layers": [self.layer],  # their only layer
        }
        self.probe = self.step(
            "Probe", "probe_handler", "video ingest: probe, store original, poster, timestamps; plan", 5, **decoder
        )
        self.segment = self.step(
            "Segment", "segment_handler", "video ingest: decode one segment of frames, store its chunks", 15, **decoder
        )
        self.finish = self.step(
            "Finish", "finish_handler", "video ingest: check the frames, record the file", 1, layers=[self.layer]
        )
        self.discard = self.step(
            "Discard", "discard_handler", "video ingest: remove a refused video, keep why", 1, layers=[self.layer]
        )
        self._grant(table, media_bucket, drop_bucket, events)
        self.build_machine(
            log_name=f"annolake-{stage}-video-ingest",
            comment="Annolake video ingest: one execution per arrived video",
            definition=map_job(
                self,
                MapJob(
                    plan="ProbeVideo",
                    map="ExtractSegments",
                    item="ExtractSegment",
                    finish="FinishVideo",
                    fail="DiscardVideo",
                    failed="VideoQuarantined",
                    succeeded="VideoIngested",
                    items="segments",
                ),
                plan=self.probe,
                item=self.segment,
                finish=self.finish,
                fail=self.discard,
                max_concurrency=SEGMENT_CONCURRENCY,
                failed_cause="the video was quarantined: see the file's status_reason",
                failure_handled=True,
            ),
            timeout=Duration.hours(2),
            steps=(self.probe, self.segment, self.finish, self.discard),
        )

    def _grant(self, table: dynamodb.ITable, media: s3.IBucket, drop: s3.IBucket, events: DomainEvents) -> None:
        """What each handler does (services/video_ingest.py), and nothing more.

        probe reads the arrival, writes the original, poster and timestamps (removed again when refused) and
        reads the table (the same bytes ingested before); segment reads the original and writes chunks;
        finish lists the chunks and registers the file (as the ingest's RegisterFile does); discard removes a
        refused video's objects and quarantines it (as QuarantineFile does)."""
        probe, segment, finish, discard = (s.function for s in (self.probe, self.segment, self.finish, self.discard))
        drop.grant_read(probe)
        media.grant_read_write(probe)
        media.grant_delete(probe)
        table.grant_read_data(probe)
        media.grant_read_write(segment)
        table.grant_read_write_data(finish)
        for bucket in (drop, media):
            bucket.grant_read(finish)
            bucket.grant_delete(finish)
        media.grant_put(finish, QUARANTINE_PREFIX + "*")  # a sidecar that landed during registration, refused
        events.grant_publish(finish)  # file_ingested
        table.grant_read_write_data(discard)
        drop.grant_read_write(discard)
        media.grant_read_write(discard)
        media.grant_delete(discard)

        objects = (nag.objects_of(self, media), nag.objects_of(self, drop))
        s3_reason = "S3 object grants on the drop and media buckets: users and the ingest choose keys at run time"
        s3_findings = (*nag.S3_READ_ACTIONS, *nag.S3_WRITE_ACTIONS, *objects)
        nag.acknowledge(self.segment.role, "IAM5", f"{s3_reason}.", findings=s3_findings)
        for step, granted in (
            (self.probe, ()),
            (self.finish, (nag.objects_of(self, media, QUARANTINE_PREFIX),)),
            (self.discard, ()),
        ):
            nag.acknowledge(
                step.role,
                "IAM5",
                f"{s3_reason}; the DynamoDB grant on the single table covers its GSIs (<table arn>/index/*).",
                findings=[*s3_findings, *granted, nag.indexes_of(self, table)],
            )
