"""Answers written straight from their model: one serialisation pass, not two."""

from collections.abc import Mapping

from pydantic import BaseModel
from starlette.responses import Response


class ModelResponse(Response):
    """The model as JSON, written by pydantic in one pass.

    A route returning its `response_model` has FastAPI validate the value again and then encode
    it; a route on a hot path whose service built and validated the answer returns this instead
    (the `response_model` still documents it). Headers go here: returning a response directly
    leaves those set on an injected `Response` behind."""

    media_type = "application/json"

    def __init__(
        self, model: BaseModel, *, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(model.model_dump_json(), status_code=status_code, headers=headers)
