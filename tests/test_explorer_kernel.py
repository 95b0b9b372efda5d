"""The explorer widgets live, against a real kernel: the same widget class that the
built book renders from embedded state is an ordinary ipywidget in Jupyter.

A kernel is started with jupyter_client (the venv's python3 kernelspec) and driven
through the Jupyter messaging protocol, the way JupyterLab drives it:

* displaying the widget opens a ``jupyter.widget`` comm whose state carries the
  anywidget front-end (``_esm``: the very module the static page embeds,
  ``esm_source("finding1")``), the data blob as a binary buffer, and b, p, case_id;
* setting traits in Python sends ``update`` messages with the new values;
* an ``update`` sent from the front-end side (what the reader's slider does) sets
  the Python values, validated (p normalised to its text form).
"""
from __future__ import annotations

import json
import queue
import time

import pytest

from paperlib.book.explorer import esm_source
from paperlib.book.explorer.finding1_data import packed

jupyter_client = pytest.importorskip("jupyter_client")
TIMEOUT = 120


@pytest.fixture(scope="module")
def kernel():
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run(kc, code: str) -> list[dict]:
    """Execute ``code``; the iopub messages of that request, up to its idle status."""
    msg_id = kc.execute(code)
    messages, deadline = [], time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=5)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            raise AssertionError("kernel error:\n" + "\n".join(msg["content"]["traceback"]))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
        messages.append(msg)
    raise AssertionError(f"no answer from the kernel in {TIMEOUT} s to {code!r}")


def updates(messages: list[dict], comm_id: str) -> dict:
    """The state sent in the ``update`` messages of comm ``comm_id``, merged."""
    state = {}
    for m in messages:
        c = m["content"]
        if m["msg_type"] == "comm_msg" and c["comm_id"] == comm_id \
                and c["data"].get("method") == "update":
            state.update(c["data"]["state"])
    return state


def printed(messages: list[dict]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


def test_explorer_is_an_ipywidget_against_a_kernel(kernel):
    shown = run(kernel, "from paperlib.book.explorer import Finding1Explorer\n"
                        "w = Finding1Explorer(case_id='lima_author_144', b=7, p=4)\n"
                        "display(w)")
    opens = [m for m in shown if m["msg_type"] == "comm_open"
             and m["content"]["data"]["state"].get("_model_name") == "AnyModel"]
    assert len(opens) == 1 and opens[0]["content"]["target_name"] == "jupyter.widget"
    comm_id, data = opens[0]["content"]["comm_id"], opens[0]["content"]["data"]
    state = data["state"]
    assert state["_model_module"] == "anywidget" and state["_view_module"] == "anywidget"
    assert state["_esm"] == esm_source("finding1")  # the module the static page embeds
    assert (state["b"], state["p"], state["case_id"]) == (7, "4", "lima_author_144")
    assert state["sections"] == ["maps", "tables", "profile", "grid"]
    assert ["data"] in data["buffer_paths"]
    blob = opens[0]["buffers"][data["buffer_paths"].index(["data"])]
    assert bytes(blob) == packed()  # the same data the page carries
    views = [m for m in shown if m["msg_type"] == "display_data"]
    assert json.loads(json.dumps(views[-1]["content"]["data"][
        "application/vnd.jupyter.widget-view+json"]))["model_id"] == comm_id

    # Python -> front-end: trait changes are sent as updates
    changed = run(kernel, "w.b = 5\nw.p = float('inf')\nw.case_id = 'mtbench_stem_144'")
    assert updates(changed, comm_id) == {"b": 5, "p": "inf", "case_id": "mtbench_stem_144"}

    # front-end -> Python: what the reader's controls send sets the Python values
    kernel.comm_info()  # (any shell request; the comm message goes on the same channel)
    msg = kernel.session.msg("comm_msg", {"comm_id": comm_id, "data": {
        "method": "update", "state": {"b": 3, "p": "2", "case_id": "user_oriented_task_1"},
        "buffer_paths": []}})
    kernel.shell_channel.send(msg)
    out = run(kernel, "print(w.b, repr(w.p), w.case_id)")
    assert printed(out).split() == ["3", "'2'", "user_oriented_task_1"]

    # a value the front-end cannot send is refused in Python, with the parameter named
    refused = run(kernel, "try:\n    w.b = 11\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
                          "print(w.b)")
    text = printed(refused)
    assert "ParameterError" in text and "b" in text and text.split()[-1] == "3"
