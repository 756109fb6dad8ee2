"""The web UI in a real browser (Debian's Chromium driven by Playwright) against a real ``python -m infra.local``.

The flow of issue 8's "Done when", as a new user would go: sign in as the demo user, create a label, upload
two images (and a file that is refused) and see them ready, query in the explorer (and see a bad query's
position), draw a box and a polygon and save, reload and see them, meet a save conflict, then the human
workflow with two people: a job is launched, the annotator pulls tasks and submits them, the reviewer requests
changes with a comment, the annotator sees the comment and fixes the work, the reviewer approves; and a
consensus review, where the reviewer compares each annotator's version with the consolidated result.

Each step writes a screenshot under ``test-results/web-ui/`` (git-ignored) and asserts on what is on screen;
any console error or uncaught page error fails the test, except the HTTP errors a step provokes on purpose.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator

import boto3
import pytest
import urllib3
from PIL import Image, ImageDraw

from tests.e2e.conftest import REPO, Person, RunningPlatform, person_in

pytestmark = pytest.mark.slow

SHOTS = REPO / "test-results" / "web-ui"
REVIEWER = "rita"
REVIEWER_PASSWORD = "Review-Passw0rd!"  # noqa: S105 - a throwaway user of the emulator's pool
LABEL = "barrier"  # a label of its own: the shared platform's other tests add "cone"
GROUP = "wear"  # an attribute group of LABEL's alone, made in the schema editor with a default
DATASET = "uploads"


@pytest.fixture(scope="module")
def reviewer(browser, platform, shots) -> Iterator[Person]:
    yield from person_in(browser, platform, REVIEWER, shots)


def _png(colour: tuple[int, int, int], size=(320, 240)) -> bytes:
    image = Image.new("RGB", size, (200, 210, 220))
    draw = ImageDraw.Draw(image)
    draw.polygon([(150, 60), (120, 200), (180, 200)], fill=colour)  # a traffic cone
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _api(platform: RunningPlatform, method: str, path: str, body: dict | None = None, key: dict | None = None) -> dict:
    creds = platform.credentials
    client_id, secret = (
        (key["client_id"], key["client_secret"]) if key else (creds["client_id"], creds["client_secret"])
    )
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    answer = urllib3.request(
        method,
        f"{platform.api_url}/api/v1/projects/{creds['project']}{path}",
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        body=json.dumps(body).encode() if body is not None else None,
        timeout=urllib3.Timeout(connect=10, read=120),  # a loaded machine answers slowly, not wrongly
    )
    assert answer.status < 300, answer.data
    return json.loads(answer.data) if answer.data else {}


def _sign_in(person: Person, username: str, password: str, path: str = "/") -> None:
    from playwright.sync_api import expect

    page = person.page
    page.goto(path)
    expect(page.get_by_role("heading", name="Sign in to Annolake")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Signed in as")).to_have_text(username)


def _start_work(page, button: str, heading: re.Pattern[str] | str) -> None:
    """Press "Start labelling"/"Start reviewing" until the task is there: a job's workflow opens tasks
    asynchronously (after a launch, a submit or a review), and the queue says so until they are open."""
    from playwright.sync_api import expect

    task = page.get_by_role("heading", name=heading)
    waiting = page.get_by_text(re.compile(r"^No (labelling tasks|reviews) are waiting for you\."))
    for _ in range(60):
        page.get_by_role("button", name=button).click()
        expect(task.or_(waiting)).to_be_visible()
        if task.is_visible():
            return
        page.wait_for_timeout(500)
    expect(task).to_be_visible()


def _draw_box(page, at: tuple[float, float], size: tuple[float, float]) -> None:
    canvas = page.get_by_role("application", name="Image canvas").bounding_box()
    x, y = canvas["x"] + at[0], canvas["y"] + at[1]
    page.keyboard.press("b")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + size[0] / 2, y + size[1] / 2, steps=4)
    page.mouse.move(x + size[0], y + size[1], steps=4)
    page.mouse.up()


def _draw_polygon(page, points: list[tuple[float, float]]) -> None:
    canvas = page.get_by_role("application", name="Image canvas").bounding_box()
    page.keyboard.press("p")
    for px, py in points:
        page.mouse.click(canvas["x"] + px, canvas["y"] + py)
    page.keyboard.press("Enter")


# --- the flow -------------------------------------------------------------------------------------------------


def _emulator_client(platform: RunningPlatform, service: str):  # noqa: ANN202
    creds = platform.credentials
    return boto3.client(
        service,
        endpoint_url=platform.emulator_url,
        region_name="us-east-1",
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
    )


def _create_pool_user(platform: RunningPlatform, username: str, password: str | None = None) -> None:
    """A user of the emulator's pool, created as an admin would (not yet a member of any project)."""
    cognito = _emulator_client(platform, "cognito-idp")
    pool = platform.credentials["user_pool_id"]
    cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
    if password:
        cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)


def test_sign_in_as_the_demo_user(platform, admin):
    from playwright.sync_api import expect

    page = admin.page
    page.goto("/p/demo/datasets")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    creds = platform.credentials
    page.get_by_label("Username").fill(creds["username"])
    page.get_by_label("Password").fill("not the password")
    with admin.expecting_http_error(400, platform.emulator_url):  # Cognito's NotAuthorizedException
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("Incorrect username or password.")
        admin.shot("01-sign-in-refused")
    page.get_by_label("Password").fill(creds["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/p/demo/datasets$"))  # back where the link pointed
    expect(page.get_by_label("Signed in as")).to_have_text(creds["username"])
    expect(page.get_by_role("link", name="default", exact=True)).to_be_visible()
    admin.shot("02-signed-in-datasets")
    page.goto("/")
    expect(page.get_by_role("cell", name="Demo", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="admin", exact=True)).to_be_visible()


def test_create_a_label_in_the_schema_editor(admin):
    from playwright.sync_api import expect

    page = admin.page
    page.get_by_role("link", name="Demo").click()
    page.get_by_role("link", name="Label schema").click()
    expect(page.get_by_role("heading", name="Label schema")).to_be_visible()
    expect(page.get_by_role("cell", name="traffic light", exact=True)).to_be_visible()  # the demo's labels
    form = page.get_by_role("form", name="Add label")
    form.get_by_label("New label").fill(LABEL)
    form.get_by_role("button", name="Add label").click()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    # an attribute group of the new label, with a default its new shapes start with
    page.get_by_role("button", name="Add attribute group").click()
    page.get_by_role("group", name="New attribute group").get_by_label("Name").fill(GROUP)
    group = page.get_by_role("group", name=GROUP, exact=True)
    group.get_by_role("group", name="Labels (none ticked: every label)").get_by_label(LABEL).check()
    options = group.get_by_label("Options, one per line")
    options.fill("new\nworn")
    options.blur()
    default = group.get_by_role("group", name=f"Default of {GROUP}")
    default.get_by_role("combobox").select_option("worn")
    page.get_by_role("button", name="Save schema").click()
    expect(page.get_by_role("status").filter(has_text="Saved (version")).to_be_visible()
    admin.shot("03-label-created")
    page.reload()
    expect(page.get_by_role("cell", name=LABEL, exact=True)).to_be_visible()
    expect(default.get_by_role("combobox")).to_have_value("worn")


def test_upload_two_images_and_see_them_ready(admin, tmp_path):
    from playwright.sync_api import expect

    page = admin.page
    page.get_by_role("link", name="Datasets").click()
    form = page.get_by_role("form", name="Create dataset")
    form.get_by_label("Name").fill(DATASET)
    form.get_by_role("button", name="Create dataset").click()
    page.get_by_role("link", name=f"Upload to {DATASET}").click()
    expect(page.get_by_role("heading", name=f"Upload to {DATASET}")).to_be_visible()
    files = []
    for name, colour in (("cone-a.png", (255, 120, 0)), ("cone-b.png", (240, 80, 20))):
        files.append(tmp_path / name)
        files[-1].write_bytes(_png(colour))
    with admin.expecting_http_error(400, "/uploads"):
        # two files dropped at once on the drop zone (the browser's own drop event), one chosen with the button
        dropped = page.evaluate_handle(
            """(files) => {
                const transfer = new DataTransfer();
                for (const [name, type, b64] of files) {
                    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                    transfer.items.add(new File([bytes], name, { type }));
                }
                return transfer;
            }""",
            [
                ["cone-a.png", "image/png", base64.b64encode(files[0].read_bytes()).decode()],
                ["notes.txt", "text/plain", base64.b64encode(b"not an image").decode()],
            ],
        )
        page.locator(".dropzone").dispatch_event("dragover", {"dataTransfer": dropped})
        page.locator(".dropzone").dispatch_event("drop", {"dataTransfer": dropped})
        page.get_by_label("Files to upload").set_input_files(files[1])
        uploads = page.get_by_role("list", name="Uploads")
        expect(uploads.get_by_role("listitem", name="cone-a.png")).to_contain_text("Ready")
        expect(uploads.get_by_role("listitem", name="cone-b.png")).to_contain_text("Ready")
        refused = uploads.get_by_role("listitem", name="notes.txt")
        expect(refused).to_contain_text("Failed")
        expect(refused).to_contain_text("is not accepted")
    expect(page.get_by_text("2 of 3 ready")).to_be_visible()
    admin.shot("04-uploaded")


def test_query_the_explorer(admin):
    from playwright.sync_api import expect

    page = admin.page
    page.get_by_role("link", name="Datasets").click()
    page.get_by_role("link", name="default", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="24 files")).to_be_visible()
    grid = page.get_by_role("list", name="Files")
    expect(grid.get_by_role("img", name="scene-000.jpg")).to_be_visible()
    expect(page.get_by_role("heading", name="Files per label")).to_be_visible()
    admin.shot("05-explorer")
    # thumbnails, not originals
    src = grid.get_by_role("img").first.get_attribute("src")
    assert "thumb" in src and "/original" not in src

    query = page.get_by_role("combobox", name="Query")
    query.click()
    query.press_sequentially("labels.traf")
    suggestion = page.get_by_role("option", name=re.compile("traffic light"))
    expect(suggestion).to_be_visible()
    admin.shot("06-query-autocompletion")
    suggestion.click()
    expect(query).to_have_value('labels."traffic light" ')
    query.press_sequentially(">= 1")
    chart = page.get_by_role("complementary", name="Files per label")
    expected = int(
        re.search(
            r"(\d+) files", chart.get_by_role("button", name=re.compile("^traffic light:")).get_attribute("aria-label")
        ).group(1)
    )
    page.get_by_role("button", name="Run query").click()
    expect(page.get_by_role("status").filter(has_text=f"{expected} files match")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?q=labels"))
    expect(grid.get_by_role("listitem")).to_have_count(expected)
    admin.shot("07-query-results")

    with admin.expecting_http_error(400, "/datasets/default/"):
        query.fill("labels.car > 3 andd labels.pedestrian >= 1")
        page.get_by_role("button", name="Run query").click()
        error = page.get_by_role("alert").filter(has_text="column 16")
        expect(error).to_be_visible()
        expect(error.locator("mark")).to_have_text("andd")
        expect(query).to_have_attribute("aria-invalid", "true")
        admin.shot("08-query-error-position")


def test_draw_a_box_and_a_polygon_save_and_reload(admin):
    from playwright.sync_api import expect

    page = admin.page
    page.goto(f"/p/demo/datasets/{DATASET}")
    page.get_by_role("img", name="cone-a.png").click()
    expect(page.get_by_role("heading", name="cone-a.png")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="version 0")).to_be_visible()
    page.get_by_role("combobox", name="Label").select_option(LABEL)
    _draw_box(page, (380, 150), (120, 300))
    _draw_polygon(page, [(460, 160), (380, 470), (540, 470)])
    instances = page.get_by_role("list", name="Instances")
    expect(instances.get_by_role("button", name=f"box {LABEL}", exact=True)).to_be_visible()
    expect(instances.get_by_role("button", name=f"polygon {LABEL} (3 points)", exact=True)).to_be_visible()
    # the polygon just drawn (selected) started with the group's default
    attributes = page.get_by_role("complementary", name="Instances and attributes")
    expect(attributes.get_by_role("combobox", name=GROUP)).to_have_value("worn")
    # undo / redo the polygon
    page.keyboard.press("Control+z")
    expect(instances.get_by_role("button", name=re.compile("^polygon"))).to_have_count(0)
    page.keyboard.press("Control+Shift+z")
    expect(instances.get_by_role("button", name=re.compile("^polygon"))).to_have_count(1)
    expect(page.get_by_role("status").filter(has_text="unsaved changes")).to_be_visible()
    admin.shot("09-drawn")
    page.get_by_role("button", name="Keyboard shortcuts").click()
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog.get_by_role("cell", name=re.compile("Draw polygons"))).to_be_visible()
    admin.shot("10-shortcuts-help")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="version 1 · saved")).to_be_visible()
    page.reload()
    expect(page.get_by_role("status").filter(has_text="version 1")).to_be_visible()
    instances = page.get_by_role("list", name="Instances")
    expect(instances.get_by_role("button", name=f"box {LABEL}", exact=True)).to_be_visible()
    expect(instances.get_by_role("button", name=f"polygon {LABEL} (3 points)", exact=True)).to_be_visible()
    admin.shot("11-reloaded")
    page.get_by_role("button", name="History").click()
    expect(page.get_by_role("button", name="Version 1")).to_be_visible()


def test_the_explorer_finds_the_new_label(admin):
    from playwright.sync_api import expect

    page = admin.page
    page.goto(f"/p/demo/datasets/{DATASET}?q=labels.{LABEL}%20%3E%3D%201")
    expect(page.get_by_role("status").filter(has_text="1 file match")).to_be_visible()
    grid = page.get_by_role("list", name="Files")
    expect(grid.get_by_role("img", name="cone-a.png")).to_be_visible()
    expect(grid.get_by_role("img", name="cone-b.png")).to_have_count(0)
    chart = page.get_by_role("complementary", name="Files per label")
    expect(chart.get_by_role("button", name=f"{LABEL}: 1 files, 2 instances")).to_be_visible()
    admin.shot("12-query-new-label")


def test_a_conflicting_save_shows_who_changed_it_and_reloads(platform, admin):
    from playwright.sync_api import expect

    page = admin.page
    page.get_by_role("img", name="cone-a.png").click()
    expect(page.get_by_role("status").filter(has_text="version 1")).to_be_visible()
    file_id = page.url.split("/files/")[1].split("?")[0]
    current = _api(platform, "GET", f"/files/{file_id}/annotations")
    point = {"type": "point", "name": LABEL, "points": [{"x": 10, "y": 10}]}
    _api(
        platform,
        "PUT",
        f"/files/{file_id}/annotations",
        {"version": 1, "instance_list": [*current["instance_list"], point]},
    )
    _draw_box(page, (100, 100), (60, 60))
    with admin.expecting_http_error(409, "/annotations"):
        page.get_by_role("button", name="Save").click()
        dialog = page.get_by_role("dialog", name="Someone else saved this file")
        expect(dialog).to_contain_text(f"key:{platform.credentials['client_id']} saved version 2")
        admin.shot("13-save-conflict")
    dialog.get_by_role("button", name="Reload their version").click()
    expect(page.get_by_role("status").filter(has_text="version 2")).to_be_visible()
    expect(
        page.get_by_role("list", name="Instances").get_by_role("button", name=f"point {LABEL}", exact=True)
    ).to_be_visible()


def test_workflow_label_review_request_changes_fix_approve(platform, admin, reviewer):
    from playwright.sync_api import expect

    # the reviewer: a user of the pool (created as an admin would), added to the project in the UI
    _create_pool_user(platform, REVIEWER, REVIEWER_PASSWORD)
    page = admin.page
    page.get_by_role("link", name="Settings").click()
    invite = page.get_by_role("form", name="Invite member")
    invite.get_by_label("Username").fill(REVIEWER)
    invite.get_by_label("Role").select_option("reviewer")
    invite.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("combobox", name=f"Role of user:{REVIEWER}")).to_have_value("reviewer")
    admin.shot("14-settings-members")

    # a job on the uploaded images, every file reviewed
    page.get_by_role("link", name="Jobs").click()
    form = page.get_by_role("form", name="Create job")
    form.get_by_label("Name", exact=True).fill("Cones")
    form.get_by_label("Instructions for annotators").fill("Box every cone.")
    form.get_by_role("checkbox", name=DATASET, exact=True).check()  # the shared platform has "sdk-uploads" too
    form.get_by_label("Files reviewed (%)").fill("100")
    form.get_by_role("button", name="Create job").click()
    expect(page.get_by_role("heading", name=re.compile("Cones"))).to_contain_text("draft")
    page.get_by_role("button", name="Launch").click()
    expect(page.get_by_role("heading", name=re.compile("Cones"))).to_contain_text("active")
    expect(page.get_by_role("table", name="Files by status")).to_contain_text("annotating")
    # each file's review execution opens its annotate task a moment after the file shows "annotating"
    tasks = page.get_by_role("table", name="Tasks by kind and status")
    expect(tasks.get_by_role("row", name=re.compile(r"^annotate 2 "))).to_be_visible(timeout=30_000)
    admin.shot("15-job-launched")

    # the annotator works both tasks: submit moves on to the next one
    page.get_by_role("link", name="Tasks").click()
    _start_work(page, "Start labelling", re.compile(r"^Label: cone-[ab]\.png"))
    names = []
    for round_ in range(2):
        expect(page.get_by_role("heading", name=re.compile(r"^Label: cone-[ab]\.png"))).to_be_visible()
        names.append(page.get_by_role("heading", name=re.compile(r"^Label: ")).inner_text())
        expect(page.get_by_text("Box every cone.")).to_be_visible()
        page.get_by_role("combobox", name="Label").select_option(LABEL)
        _draw_box(page, (300 + 40 * round_, 200), (150, 250))
        admin.shot(f"16-task-{round_ + 1}-labelled")
        page.get_by_role("button", name="Submit").click()
        if round_ == 0:
            expect(page.get_by_role("heading", name=re.compile(r"^Label: "))).not_to_have_text(names[0])
    expect(page.get_by_role("status").filter(has_text="No more tasks for you right now")).to_be_visible()
    assert sorted(names) == ["Label: cone-a.png", "Label: cone-b.png"]
    admin.shot("17-queue-empty")

    # the reviewer asks for changes on the first file, approves the second
    rpage = reviewer.page
    _sign_in(reviewer, REVIEWER, REVIEWER_PASSWORD, "/p/demo/tasks")
    _start_work(rpage, "Start reviewing", re.compile(r"^Review: "))
    first_review = rpage.get_by_role("heading", name=re.compile(r"^Review: ")).inner_text()
    expect(rpage.get_by_text("Work of admin.")).to_be_visible()
    expect(
        rpage.get_by_role("list", name="Instances").get_by_role("button", name=re.compile(f"^box {LABEL}"))
    ).not_to_have_count(0)
    expect(rpage.get_by_role("button", name="Request changes")).to_be_disabled()  # needs a comment
    rpage.get_by_label("Comment for the annotator").fill("The box is too loose: fit it to the cone.")
    reviewer.shot("18-review-request-changes")
    rpage.get_by_role("button", name="Request changes").click()
    expect(rpage.get_by_role("heading", name=re.compile(r"^Review: "))).not_to_have_text(first_review)
    rpage.get_by_role("button", name="Approve").click()
    expect(rpage.get_by_role("status").filter(has_text="No more reviews for you right now")).to_be_visible()

    # the annotator gets the file back with the comment, fixes it, submits
    page.get_by_role("link", name="Tasks").click()
    _start_work(page, "Start labelling", first_review.replace("Review", "Label"))
    comment = page.get_by_role("alert").filter(has_text="Changes requested by the reviewer")
    expect(comment).to_contain_text("The box is too loose: fit it to the cone.")
    instances = page.get_by_role("list", name="Instances")
    instances.get_by_role("button", name=re.compile(f"^Delete box {LABEL}")).first.click()
    page.get_by_role("combobox", name="Label").select_option(LABEL)
    _draw_box(page, (350, 180), (90, 200))
    admin.shot("19-rework-with-comment")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status").filter(has_text="No more tasks for you right now")).to_be_visible()

    # the reviewer approves the fix
    _start_work(rpage, "Start reviewing", first_review)
    reviewer.shot("20-review-approve")
    rpage.get_by_role("button", name="Approve").click()
    expect(rpage.get_by_role("status").filter(has_text="No more reviews for you right now")).to_be_visible()

    # the job page: both files complete, the annotator's work and the review counted
    page.get_by_role("link", name="Jobs").click()
    page.get_by_role("link", name="Cones").click()
    by_status = page.get_by_role("table", name="Files by status")
    expect(by_status.get_by_role("row", name="complete 2")).to_be_visible(timeout=60_000)
    annotators = page.get_by_role("table", name="Per annotator")
    expect(annotators).to_contain_text("user:admin")
    expect(page.get_by_text("Rejection rate")).to_be_visible()
    expect(page.locator("dd").filter(has_text="33%")).to_be_visible()  # 1 of 3 reviews asked for changes
    admin.shot("21-job-stats")


def test_consensus_review_shows_each_annotator_and_the_consolidated_result(platform, admin, tmp_path):
    """Two annotators (API keys, through the API) label one file; the reviewer compares their versions."""
    from annolake import Project
    from playwright.sync_api import expect

    creds = platform.credentials
    image = tmp_path / "pair.png"
    image.write_bytes(_png((250, 140, 0)))
    Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url).file.from_local(
        image, directory="pairs"
    )
    keys = [_api(platform, "POST", "/api-keys", {"name": f"annotator {i}", "role": "annotator"}) for i in (1, 2)]
    job = _api(
        platform,
        "POST",
        "/jobs",
        {
            "name": "Pairs",
            "datasets": ["pairs"],
            "consensus": 2,
            "review_rate": 1.0,
            "annotators": [k["client_id"] for k in keys],
        },
    )
    _api(platform, "POST", f"/jobs/{job['job_id']}/launch")
    for index, key in enumerate(keys):
        task = None
        for _ in range(100):
            task = _api(platform, "POST", "/tasks/next", {"job_id": job["job_id"], "kind": "annotate"}, key=key)["task"]
            if task:
                break
            admin.page.wait_for_timeout(200)
        assert task, "the consensus job made no task"
        box = {"type": "box", "name": LABEL, "x_min": 140 + 10 * index, "y_min": 60, "x_max": 182, "y_max": 200}
        _api(platform, "POST", f"/tasks/{task['task_id']}/submit", {"instance_list": [box]}, key=key)

    page = admin.page
    page.goto("/p/demo/tasks")
    page.get_by_role("combobox", name="Job").select_option(label="Pairs")
    for _ in range(50):
        page.get_by_role("button", name="Start reviewing").click()
        heading = page.get_by_role("heading", name="Review: pair.png")
        waiting = page.get_by_text("No reviews are waiting for you.")
        expect(heading.or_(waiting)).to_be_visible()
        if heading.is_visible():
            break
        page.wait_for_timeout(300)
    expect(page.get_by_text(re.compile(r"The consolidated result of 2 annotators \(agreement \d+%\)"))).to_be_visible()
    compare = page.get_by_role("complementary", name="Instances and attributes")
    for key in keys:
        expect(compare.get_by_role("checkbox", name=re.compile(f"key:{key['client_id']}"))).to_be_checked()
    admin.shot("22-consensus-review")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status").filter(has_text="No more reviews for you right now")).to_be_visible()


def test_bulk_import_progress_and_failed_items_on_the_dataset_page(platform, admin, tmp_path):
    from annolake import Project
    from playwright.sync_api import expect

    creds = platform.credentials
    sdk = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    (tmp_path / "good.png").write_bytes(_png((20, 200, 60)))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG this is not a picture")
    coco = {
        "images": [{"id": 1, "file_name": "good.png"}, {"id": 2, "file_name": "broken.png"}],
        "categories": [{"id": 1, "name": LABEL}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 60]}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    job = sdk.import_coco(tmp_path / "coco.json", directory=DATASET, progress=False)
    assert (job["done"], job["failed"]) == (1, 1)

    page = admin.page
    page.goto(f"/p/{creds['project']}/datasets")
    page.get_by_role("link", name=f"Upload to {DATASET}").click()
    imports = page.get_by_role("region", name="Imports")
    row = imports.get_by_role("row").filter(has_text=job["import_id"])
    expect(row).to_contain_text("completed_with_errors")
    expect(row.get_by_role("progressbar")).to_have_attribute("value", "2")
    row.get_by_role("button", name="1 failed: show reasons").click()
    failures = page.get_by_label(f"failed items of import {job['import_id']}")
    expect(failures.get_by_role("row").filter(has_text="broken.png")).to_contain_text("not")
    admin.shot("22b-import-progress")


def test_a_member_added_while_the_members_table_loads_shows_in_it(platform, admin):
    """The table's first read reaches the API before the invite and answers after it: the table must not keep
    that stale answer (it used to, until a reload)."""
    from playwright.sync_api import expect

    newcomer = "mo"
    _create_pool_user(platform, newcomer)
    page = admin.page
    held = []  # (route, the API's answer from before the invite)

    def hold_the_first_read(route) -> None:
        if route.request.method == "GET" and not held:
            held.append((route, route.fetch()))
        else:
            route.fallback()

    members = "**/api/v1/projects/demo/members"
    page.route(members, hold_the_first_read)
    try:
        page.goto("/p/demo/settings")
        while not held:
            page.wait_for_timeout(50)
        invite = page.get_by_role("form", name="Invite member")
        invite.get_by_label("Username").fill(newcomer)
        invite.get_by_role("button", name="Add member").click()
        expect(page.get_by_role("status").filter(has_text=f"user:{newcomer} is now annotator")).to_be_visible()
        route, stale_answer = held[0]
        route.fulfill(response=stale_answer)
        expect(page.get_by_role("combobox", name=f"Role of user:{newcomer}")).to_have_value("annotator")
    finally:
        page.unroute(members)
    admin.shot("22c-member-added-while-loading")


def test_the_editor_says_why_a_late_sidecar_was_not_attached_and_shows_metadata(platform, admin):
    """A sidecar dropped after its image, with a box outside it: the file stays ready and its page says why.
    The page also lists the file's metadata (what ``file.metadata.<key>`` queries match)."""
    import time

    from playwright.sync_api import expect

    creds = platform.credentials
    s3 = _emulator_client(platform, "s3")
    folder = f"{creds['project']}/drops"
    s3.put_object(Bucket=creds["drop_bucket"], Key=f"{folder}/kerb.png", Body=_png((90, 90, 200)))

    def file_named(name: str, until) -> dict:  # noqa: ANN001
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = _api(platform, "GET", "/datasets/drops/files") if _dataset_exists(platform, "drops") else {}
            found = next((f for f in listed.get("files", []) if f["original_name"] == name), None)
            if found is not None and until(found):
                return found
            time.sleep(0.25)
        raise AssertionError(f"{name} did not reach the expected state in 60 s")

    ready = file_named("kerb.png", lambda f: f["status"] == "ready")
    outside = {"type": "box", "name": LABEL, "x_min": 10, "y_min": 10, "x_max": 900, "y_max": 50}  # 320 wide
    s3.put_object(Bucket=creds["drop_bucket"], Key=f"{folder}/kerb.json", Body=json.dumps([outside]).encode())
    noted = file_named("kerb.png", lambda f: f["status_reason"] is not None)
    assert noted["file_id"] == ready["file_id"] and noted["status"] == "ready"

    _api(platform, "PATCH", f"/files/{ready['file_id']}", {"metadata": {"camera": "kerb-2", "lux": 310}})

    page = admin.page
    page.goto(f"/p/{creds['project']}/files/{ready['file_id']}?dataset=drops")
    note = page.get_by_role("note", name="Ingest note")
    expect(note).to_contain_text("sidecar kerb.json was not attached")
    expect(note).to_contain_text("outside the 320x240 image")
    expect(page.get_by_role("status").filter(has_text="version 0")).to_be_visible()
    page.get_by_text("Metadata (2)").click()
    metadata = page.get_by_label("Metadata", exact=True)
    expect(metadata.get_by_role("definition")).to_have_text(["kerb-2", "310"])
    admin.shot("22d-refused-sidecar-note")


def _dataset_exists(platform: RunningPlatform, name: str) -> bool:
    return any(d["name"] == name for d in _api(platform, "GET", "/datasets")["datasets"])


def test_sign_out(admin):
    from playwright.sync_api import expect

    page = admin.page
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Annolake")).to_be_visible()
    page.goto("/p/demo/datasets")
    expect(page).to_have_url(re.compile(r"/signin"))  # the session is gone, a reload does not bring it back
    admin.shot("23-signed-out")
