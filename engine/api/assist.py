"""The builder's help over REST: flow templates, testing one task, previewing an expression."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from engine.api.errors import COMMON_RESPONSES
from engine.api.services import engine
from engine.model.views_workspace import ExpressionPreview, FlowTemplate

router = APIRouter(prefix="/api/v1", tags=["Builder help"], responses=COMMON_RESPONSES)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TaskTestIn(_In):
    inputs: dict[str, Any] = Field(default_factory=dict, description="Sample inputs of the flow.")
    pinned_execution_id: str | None = Field(default=None, alias="pinnedExecutionId", max_length=64,
                                            description="An execution of the flow whose earlier task outputs the task reads.")
    source: str | None = Field(default=None, max_length=1_000_000,
                               description="The flow as edited (YAML); its latest revision when absent.")


class TaskTestOut(BaseModel):
    execution_id: str = Field(alias="executionId")


class PreviewIn(_In):
    expression: str = Field(max_length=100_000)
    execution_id: str | None = Field(default=None, alias="executionId", max_length=64)
    task_id: str | None = Field(default=None, alias="taskId", max_length=100)


class TemplateSource(BaseModel):
    source: str


@router.get("/templates", response_model=list[FlowTemplate])
def list_templates(request: Request) -> list[dict[str, Any]]:
    """The flows Lanner ships to start from: story, YAML, the types and plugins each uses."""
    return [t.to_dict() for t in engine(request).templates()]


@router.post("/templates/{template_id}/open", response_model=TemplateSource)
def open_template(request: Request, template_id: str, namespace: str = Query(..., max_length=150),
                  flow_id: str = Query(..., alias="flowId", max_length=100)) -> dict[str, str]:
    """A template's YAML under your namespace and id (not deployed); adds the namespace files it needs."""
    return {"source": engine(request).open_template(template_id, namespace, flow_id)}


@router.post("/flows/{namespace}/{flow_id}/tasks/{task_id}/test", response_model=TaskTestOut, status_code=201)
async def test_task(request: Request, namespace: str, flow_id: str, task_id: str, body: TaskTestIn) -> dict[str, str]:
    """Run one task alone (an execution of a one-task flow) with sample inputs and pinned earlier outputs."""
    eng = engine(request)
    ex_id = await run_in_threadpool(lambda: eng.test_task(namespace, flow_id, task_id, source=body.source,
                                                          inputs=body.inputs,
                                                          pinned_execution_id=body.pinned_execution_id))
    return {"executionId": ex_id}


@router.post("/flows/{namespace}/{flow_id}/preview", response_model=ExpressionPreview)
def preview(request: Request, namespace: str, flow_id: str, body: PreviewIn) -> dict[str, Any]:
    """What an expression renders to against a task's context in an execution of the flow (its latest by default)."""
    return engine(request).preview_expression(namespace, flow_id, body.expression, execution_id=body.execution_id,
                                              task_id=body.task_id).to_dict()
