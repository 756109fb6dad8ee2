"""The pure parts of models in the loop: declared specs and label matching, graph signatures, letterboxing and
NMS, the prediction fields of the query language, disagreement ranking and uncertainty selection."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import numpy as np
import pytest
from annolake_service.domain import evaluation, inference
from annolake_service.domain import predictions as rules
from annolake_service.domain import query as q
from annolake_service.domain.models import (
    GraphMismatch,
    LabelsUnmatched,
    ModelSpec,
    TensorInfo,
    check_signature,
    class_labels,
)
from pydantic import ValidationError

YOLO = ModelSpec(format="yolo", labels=["car", "pedestrian"], input_size=64)


def test_classes_match_labels_by_name_unless_mapped_or_ignored():
    spec = ModelSpec(
        format="yolo", labels=["car", "person", "kite"], label_map={"person": "pedestrian"}, ignore=["kite"]
    )
    assert class_labels(spec, {"car", "pedestrian"}) == ["car", "pedestrian", None]
    with pytest.raises(LabelsUnmatched) as unmatched:
        class_labels(ModelSpec(format="yolo", labels=["car", "bus", "tram"]), {"car"})
    assert unmatched.value.names == ["bus", "tram"] and "label_map" in str(unmatched.value)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"labels": ["car", "car"]}, "repeated: ['car']"),
        ({"label_map": {"bus": "car"}}, "does not have: ['bus']"),
        ({"label_map": {"car": "truck"}, "ignore": ["car"]}, "both mapped and ignored"),
        ({"normalisation": {"std": [1, 0, 1]}}, "std values must be positive"),
    ],
)
def test_inconsistent_specs_are_refused_with_the_reason(changes, problem):
    with pytest.raises(ValidationError, match=re.escape(problem)):
        ModelSpec.model_validate({"format": "yolo", "labels": ["car"], **changes})


def _tensor(name, shape, kind="tensor(float)"):
    return TensorInfo(name, tuple(shape), kind)


@pytest.mark.parametrize(
    ("spec", "inputs", "outputs", "problem"),
    [
        (YOLO, [_tensor("images", [1, 3, 64, 64])], [_tensor("out", [1, 85, 8400])], "1×6×N for the 2 declared"),
        (
            YOLO,
            [_tensor("images", [1, 3, 640, 640])],
            [_tensor("out", [1, 6, 8400])],
            "640 pixels but input_size is 64",
        ),
        (YOLO, [_tensor("images", [1, 3, 64, 64], "tensor(uint8)")], [_tensor("o", [1, 6, 8])], "float32"),
        (
            ModelSpec(format="classifier", labels=["a", "b", "c"], input_size=64),
            [_tensor("x", [1, 3, 64, 64])],
            [_tensor("logits", [1, 1000])],
            "1×3 for the declared classes",
        ),
        (
            ModelSpec(format="torchvision", labels=["a"]),
            [_tensor("x", [3, "h", "w"])],
            [_tensor("boxes", ["n", 4]), _tensor("scores", ["n"]), _tensor("labels", ["n"], "tensor(int64)")],
            "labels N (integers)",
        ),
    ],
)
def test_graphs_that_do_not_fit_the_format_are_named_with_what_they_have(spec, inputs, outputs, problem):
    with pytest.raises(GraphMismatch) as mismatch:
        check_signature(spec, inputs, outputs)
    assert problem in str(mismatch.value) and inputs[0].name in str(mismatch.value)


def test_symbolic_dimensions_are_accepted():
    check_signature(YOLO, [_tensor("images", ["batch", 3, "h", "w"])], [_tensor("out", ["batch", "rows", "n"])])


def test_letterbox_maps_input_pixels_back_to_the_image():
    rgb = np.zeros((100, 300, 3), dtype=np.uint8)
    square, box = inference.letterbox(rgb, 60)
    assert square.shape == (60, 60, 3) and (box.scale, box.pad_x, box.pad_y) == (0.2, 0, 20)
    assert (square[:20] == inference.LETTERBOX_FILL).all() and (square[20:40] == 0).all()
    back = box.to_image(np.array([[0, 20, 60, 40], [-5, 0, 30, 70]]))
    assert back.tolist() == [[0, 0, 300, 100], [0, 0, 150, 100]]  # clipped to the image


def _iou(a, b):
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_nms_keeps_what_a_brute_force_greedy_pass_keeps():
    rng = np.random.default_rng(3)
    for _ in range(20):
        xy = rng.uniform(0, 50, (40, 2))
        boxes = np.hstack([xy, xy + rng.uniform(5, 30, (40, 2))])
        scores = rng.uniform(0, 1, 40)
        expected = []
        for i in np.argsort(-scores, kind="stable"):
            if all(_iou(boxes[i], boxes[j]) <= 0.5 for j in expected):
                expected.append(i)
        assert inference.nms(boxes, scores, 0.5).tolist() == expected


def test_yolo_outputs_are_thresholded_suppressed_per_class_and_mapped_back():
    rows = np.array(
        [
            # cx, cy, w, h, car, pedestrian
            [30, 30, 20, 20, 0.9, 0.1],
            [31, 30, 20, 20, 0.8, 0.1],  # the same car: suppressed
            [31, 30, 20, 20, 0.1, 0.7],  # a pedestrian in the same place: kept (another class)
            [10, 10, 4, 4, 0.2, 0.1],  # below the threshold
        ],
        dtype=np.float32,
    ).T[None]
    box = inference.Letterbox(scale=0.5, pad_x=0, pad_y=10, width=128, height=88)
    found = inference.decode_yolo(rows, YOLO, box, threshold=0.25)
    assert [(d.class_index, round(d.score, 2)) for d in found] == [(0, 0.9), (1, 0.7)]
    assert (found[0].x_min, found[0].y_min, found[0].x_max, found[0].y_max) == (40, 20, 80, 60)


def test_classifier_tags_keep_the_best_class_and_those_above_the_threshold():
    probabilities = inference.class_probabilities(
        np.array([[2.0, 1.9, -3.0]]), ModelSpec(format="classifier", labels=["a", "b", "c"])
    )
    assert probabilities.sum() == pytest.approx(1)
    tags = inference.tag_instances(probabilities, ["a", "b", None], 0.45, {"run": "r"})
    assert [t["name"] for t in tags] == ["a", "b"] and tags[0]["run"] == "r"
    assert [t["name"] for t in inference.tag_instances(probabilities, ["a", "b", None], 0.9, {})] == ["a"]


def test_a_corrupt_image_is_named_as_such():
    with pytest.raises(inference.ImageUnreadable, match="cannot be decoded"):
        inference.decode_rgb(b"\x89PNG\r\n\x1a\nnot really")


# --- the prediction fields of the query language ----------------------------------------------------------


def _view(**predictions):
    return q.FileView(
        name="a", type="image", width=1, height=1, created=datetime.now(UTC), status="ready", predictions=predictions
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("predictions.det.car > 2", True),
        ("predictions.det.car = 3 and predictions.det.pedestrian = 0", True),
        ("predictions.det.car.score < 0.4", True),
        ("predictions.det.car.score >= 0.4", False),
        ("predictions.det.pedestrian.score < 0.4", False),  # no pedestrian: no score
        ("predictions.det.pedestrian.score != 0.4", True),  # != is the negation of =
        ("not predictions.other.car > 0", True),  # a model that predicted nothing for the file
        ('predictions."det".car in [3, 4]', True),
    ],
)
def test_prediction_fields_read_counts_and_the_lowest_score(text, expected):
    view = _view(det={"car": {"count": 3, "min_score": 0.31}})
    node = q.parse_query(text)
    assert q.evaluate(node, view) is expected
    assert q.parse_query(q.format_query(node)) == node
    assert q.plan(node).filter is None  # evaluated after reading, never pushed down


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("predictions.det > 1", "predictions.<model>.<label>"),
        ("predictions.det.car.scores < 1", "predictions.<model>.<label>.score"),
        ("predictions.det.car.score < 'low'", "a score between 0 and 1"),
    ],
)
def test_malformed_prediction_fields_say_what_they_should_be(text, problem):
    with pytest.raises(q.QueryError, match=problem.replace(".", r"\.").replace("<", "<").replace(">", ">")):
        q.parse_query(text)


def test_unknown_models_and_labels_in_prediction_fields_get_a_suggestion():
    with pytest.raises(q.QueryNameError, match="unknown model 'dett'.*'det'"):
        q.check_query(
            q.parse_query("predictions.dett.car > 1"), label_names={"car"}, attribute_groups=(), model_names={"det"}
        )
    with pytest.raises(q.QueryNameError, match="unknown label 'cat'.*'car'"):
        q.check_query(
            q.parse_query("predictions.det.cat > 1"), label_names={"car"}, attribute_groups=(), model_names={"det"}
        )
    q.check_query(
        q.parse_query("predictions.pr_1234.car > 1"), label_names={"car"}, attribute_groups=(), model_names=set()
    )


# --- disagreement and selection ----------------------------------------------------------------------------


def test_the_files_with_removed_human_boxes_rank_first_by_disagreement():
    """A model that mostly agrees with careful humans, with its own misses and low-score noise; 5% of the human
    boxes are then removed (one per file at most). As many files as were damaged, taken from the top by
    disagreement, must hold at least 60% of the damaged files (with one box per file: the top 5% of files)."""
    rng = random.Random(11)
    labels = ["car", "pedestrian", "truck"]
    human, predicted = {}, {}
    for n in range(1000):
        fid = f"f{n:04d}"
        boxes = []
        for _ in range(rng.randint(1, 4)):
            x, y = rng.uniform(0, 500), rng.uniform(0, 300)
            boxes.append(evaluation.Box(rng.choice(labels), x, y, x + rng.uniform(20, 80), y + rng.uniform(20, 80)))
        human[fid] = boxes
        found = []
        for b in boxes:
            if rng.random() < 0.05:
                continue  # the model misses it
            jitter = [rng.uniform(-2, 2) for _ in range(4)]
            found.append(
                evaluation.Box(
                    b.label,
                    b.x_min + jitter[0],
                    b.y_min + jitter[1],
                    b.x_max + jitter[2],
                    b.y_max + jitter[3],
                    score=rng.uniform(0.6, 0.99),
                )
            )
        for _ in range(rng.randint(0, 2)):  # low-score noise
            x, y = rng.uniform(0, 500), rng.uniform(0, 300)
            found.append(evaluation.Box(rng.choice(labels), x, y, x + 30, y + 30, score=rng.uniform(0.3, 0.45)))
        predicted[fid] = found
    all_boxes = [(fid, i) for fid, boxes in human.items() for i in range(len(boxes))]
    one_per_file = list({fid: (fid, i) for fid, i in rng.sample(all_boxes, len(all_boxes))}.values())
    removed = one_per_file[: len(all_boxes) // 20]
    damaged = {fid for fid, _ in removed}
    for fid, index in sorted(removed, key=lambda r: -r[1]):
        del human[fid][index]

    report = evaluation.evaluate_run(predicted, human, labels, iou_threshold=0.5, score_threshold=0.3)
    ranked = sorted(report.files, key=lambda f: -f.disagreement)
    top = {f.file_id for f in ranked[: len(damaged)]}
    assert len(top & damaged) / len(damaged) >= 0.6, (len(top & damaged), len(damaged))
    assert report.mean_ap is not None and 0 < report.mean_ap < 1
    assert set(report.per_class_ap) == set(labels)


def test_precision_recall_curves_average_to_each_classs_ap_and_fall_as_recall_grows():
    """The curves are COCOeval's interpolated precision at its recall thresholds: their mean is the class's AP,
    precision never rises with recall, and a class the model finds perfectly is precise up to full recall."""
    rng = random.Random(5)
    human, predicted = {}, {}
    for n in range(60):
        fid = f"f{n:03d}"
        human[fid] = [evaluation.Box("car", 10, 10, 50, 50), evaluation.Box("truck", 100, 100, 160, 150)]
        found = [evaluation.Box("car", 10, 10, 50, 51, score=rng.uniform(0.5, 0.99))]  # every car, exactly
        if rng.random() < 0.7:  # most trucks, plus confident boxes where there is none
            found.append(evaluation.Box("truck", 101, 100, 160, 150, score=rng.uniform(0.3, 0.9)))
        if rng.random() < 0.4:
            found.append(evaluation.Box("truck", 300, 300, 340, 340, score=rng.uniform(0.3, 0.95)))
        predicted[fid] = found
    report = evaluation.evaluate_run(predicted, human, ["car", "truck", "bus"], iou_threshold=0.5)

    assert set(report.pr_curves) == {"car", "truck"}  # no human bus: no AP, no curve
    for label, curve in report.pr_curves.items():
        recalls = [r for r, _ in curve]
        precisions = [p for _, p in curve]
        assert recalls == sorted(recalls) and recalls[0] == 0 and recalls[-1] == 1 and len(curve) == 101
        assert all(a >= b for a, b in zip(precisions, precisions[1:], strict=False))
        assert np.mean(precisions) == pytest.approx(report.per_class_ap[label], abs=1e-5)
    assert all(p == 1 for _, p in report.pr_curves["car"])
    truck = dict(report.pr_curves["truck"])
    assert 0 < truck[0.5] < 1 and truck[1.0] == 0  # about 70% of the trucks found: none at full recall


def test_per_annotator_disagreement_counts_the_files_each_person_last_saved():
    files = [
        evaluation.FileEvaluation("a", disagreement=0.9),
        evaluation.FileEvaluation("b", disagreement=0.0),
        evaluation.FileEvaluation("c", disagreement=0.5),
        evaluation.FileEvaluation("d", disagreement=0.3),
    ]
    rates = evaluation.annotator_disagreement(files, {"a": "ann", "b": "ann", "c": "bob"})
    assert rates == {
        "ann": {"files": 2, "disagreeing": 1, "rate": 0.5, "mean_disagreement": 0.45},
        "bob": {"files": 1, "disagreeing": 1, "rate": 1.0, "mean_disagreement": 0.5},
    }  # d: nobody annotated it, left out


def test_disagreement_is_zero_when_prediction_and_human_agree_and_grows_with_confidence():
    human = [evaluation.Box("car", 0, 0, 10, 10)]
    agree = evaluation.evaluate_file(
        "a", [evaluation.Box("car", 0, 0, 10, 11, 0.9)], human, iou_threshold=0.5, score_threshold=0.3, fn_weight=0.5
    )
    assert (agree.tp, agree.fp, agree.fn, agree.disagreement) == (1, 0, 0, 0)
    extra = [evaluation.Box("car", 0, 0, 10, 11, 0.9), evaluation.Box("car", 50, 50, 60, 60, 0.95)]
    confident = evaluation.evaluate_file("b", extra, human, iou_threshold=0.5, score_threshold=0.3, fn_weight=0.5)
    doubtful = evaluation.evaluate_file(
        "c",
        [extra[0], evaluation.Box("car", 50, 50, 60, 60, 0.35)],
        human,
        iou_threshold=0.5,
        score_threshold=0.3,
        fn_weight=0.5,
    )
    assert confident.fp == 1 and confident.disagreement == pytest.approx(0.95)
    assert doubtful.disagreement < confident.disagreement
    swapped = evaluation.evaluate_file(
        "d", [evaluation.Box("truck", 0, 0, 10, 10, 0.8)], human, iou_threshold=0.5, score_threshold=0.3, fn_weight=0.5
    )
    assert (swapped.fp, swapped.fn, swapped.mismatches, swapped.errors[0]["kind"]) == (1, 1, 1, "label_mismatch")


@pytest.mark.parametrize("strategy", rules.STRATEGIES)
def test_uncertainty_orders_distributions_from_sure_to_unsure(strategy):
    sure = rules.file_uncertainty([], [0.97, 0.02, 0.01], strategy)
    unsure = rules.file_uncertainty([], [0.4, 0.35, 0.25], strategy)
    assert 0 <= sure < unsure <= 1
    boxes = rules.file_uncertainty([{"score": 0.95}, {"score": 0.55}], None, strategy)
    assert boxes == pytest.approx(rules.file_uncertainty([], [0.55, 0.45], strategy))
    assert rules.file_uncertainty([], None, strategy) == 0


def test_selection_is_deterministic_per_seed_and_breaks_ties_by_it():
    candidates = [rules.Candidate(f"f{n}", 0.5) for n in range(50)] + [rules.Candidate("top", 0.9)]
    first = [c.file_id for c in rules.select(candidates, 10, seed=1)]
    assert first[0] == "top" and first == [c.file_id for c in rules.select(list(reversed(candidates)), 10, seed=1)]
    assert first != [c.file_id for c in rules.select(candidates, 10, seed=2)]


def test_summaries_count_labels_and_keep_the_lowest_score():
    summary = rules.summarize(
        [{"name": "car", "score": 0.9}, {"name": "car", "score": 0.4}, {"name": "tag", "score": 1}]
    )
    assert summary == {"car": {"count": 2, "min_score": 0.4}, "tag": {"count": 1, "min_score": 1.0}}


def test_a_files_class_is_the_label_of_its_least_certain_prediction():
    boxes = [{"name": "car", "score": 0.95}, {"name": "pedestrian", "score": 0.55}, {"name": "truck", "score": 0.8}]
    assert rules.file_uncertainty_and_class(boxes, None, "least_confidence") == (pytest.approx(0.45), "pedestrian")
    tags = [{"name": "car", "score": 0.3}, {"name": "truck", "score": 0.6}]
    assert rules.file_uncertainty_and_class(tags, [0.3, 0.6, 0.1], "margin")[1] == "truck"  # the most probable
    assert rules.file_uncertainty_and_class([], None, "entropy") == (0.0, None)


def test_per_class_cap_takes_the_most_uncertain_of_each_class_deterministically():
    candidates = [rules.Candidate(f"car{n}", 0.9 - n / 100, "car") for n in range(10)]
    candidates += [rules.Candidate(f"ped{n}", 0.5 - n / 100, "pedestrian") for n in range(10)]
    candidates += [rules.Candidate(f"none{n}", 0.0, None) for n in range(10)]
    chosen = [c.file_id for c in rules.select(candidates, 8, seed=3, per_class_cap=3)]
    assert chosen[:6] == ["car0", "car1", "car2", "ped0", "ped1", "ped2"]
    assert len(chosen) == 8 and all(c.startswith("none") for c in chosen[6:])
    assert chosen == [c.file_id for c in rules.select(list(reversed(candidates)), 8, seed=3, per_class_cap=3)]
    assert len(rules.select(candidates, 50, seed=3, per_class_cap=2)) == 6  # the classes run out before k
    assert [c.file_id for c in rules.select(candidates, 5, seed=3)] == [f"car{n}" for n in range(5)]


def test_a_chunk_reads_its_images_ahead_in_order_in_the_callers_context_and_a_bad_read_fails_alone():
    import contextvars
    import threading

    from annolake_service.services import inference

    principal = contextvars.ContextVar("principal", default=None)
    principal.set("model-function-role")  # what the local runtime's IAM audit knows the calls by
    started, lock = [], threading.Lock()

    def read(record):
        with lock:
            started.append(record)
        if record == "f7":
            raise OSError("unreadable")
        return f"{record}:{principal.get()}".encode()

    files = [(f"f{n}", f"f{n}") for n in range(30)]
    for n, (file_id, future) in enumerate(inference._read_ahead(files, read)):
        assert file_id == f"f{n}" and len(started) <= n + inference.READ_AHEAD + 1  # a bounded window
        if n == 7:
            with pytest.raises(OSError, match="unreadable"):
                future.result()
        else:
            assert future.result() == f"f{n}:model-function-role".encode()
    assert sorted(started, key=lambda f: int(f[1:])) == [f for f, _ in files]
