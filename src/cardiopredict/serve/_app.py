"""The FastAPI app: versioned API over the served fold ensembles, the clinician's page, error answers.

Every error a client can cause is a 4xx JSON answer ``{"error": <class>, "message": <what to do>}``:
a named :class:`~cardiopredict.errors.CardioPredictError` (422 bad input, 409 model unavailable, 404
unknown model or result, 413 upload too large, 401 missing token). Uploads are written under neutral
names into a temporary folder that is removed before the answer is sent; the log records the model,
status, time and error class only — never a file name, a header field or an error message.
"""

from __future__ import annotations

import hmac
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from cardiopredict._io import to_jsonable
from cardiopredict.errors import CardioPredictError, ConfigError, InputError, ModelFileError
from cardiopredict.serve._compute import ProcessCompute, ThreadCompute
from cardiopredict.serve._figures import ResultStore, draw_figure
from cardiopredict.serve._models import ServedModel, UnavailableModel
from cardiopredict.serve._scoring import score
from cardiopredict.serve._uploads import DEFAULT_MAX_UPLOAD_BYTES, BodySizeLimit, upload_name

API = "/api/v1"
STATIC = Path(__file__).parent / "static"
OPTIONAL_FIELDS = {"sex": "M or F (sex-specific criteria)", "lvef": "LVEF in % (shown; the VA rule)"}
log = logging.getLogger("cardiopredict.serve")


def create_app(
    models: Mapping[str, ServedModel | UnavailableModel],
    *,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_results: int = 16,
    upload_dir: str | Path | None = None,
    workers: int | None = None,
    processes: int = 0,
    torch_threads: int = 1,
) -> FastAPI:
    """Build the app serving ``models`` (from :func:`cardiopredict.serve.load_models`).

    Parameters
    ----------
    models : mapping of str to ServedModel or UnavailableModel
    token : str, optional
        When set, every ``/api/v1`` call needs ``Authorization: Bearer <token>``.
    max_upload_bytes : int
        Largest request body accepted (default 20 MB); larger ones get 413.
    max_results : int
        Predictions kept in memory for their figures (oldest dropped first).
    upload_dir : path, optional
        Where the per-request temporary folders are made (default: the system's temporary folder).
    workers : int, optional
        With ``processes=0``: scorings and figures computed at once in threads of this process
        (default: the CPU cores this process may use); more requests wait their turn.
    processes : int
        When > 0, scorings and figures run in that many worker processes, each holding the models
        (started with the app, before it answers; see :mod:`cardiopredict.serve._compute`): on two
        or more cores this is what makes them run in parallel, since the ECG pipeline holds the GIL.
    torch_threads : int
        Threads per forward pass in each worker process (threads mode: set by the caller).
    """
    if token is not None and len(token) < 8:
        raise ConfigError("the access token is shorter than 8 characters; use a long random one.")
    if max_upload_bytes <= 0:
        raise ConfigError(f"max_upload_bytes={max_upload_bytes}: give a positive size (default 20 MB).")
    if processes < 0:
        raise ConfigError(f"processes={processes}: give 0 (threads of this process) or more workers.")
    models = dict(models)
    if processes:
        compute: Any = ProcessCompute(models, processes=processes, torch_threads=torch_threads)
    else:
        compute = ThreadCompute(models, workers=workers or len(os.sched_getaffinity(0)))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await compute.start()
        try:
            yield
        finally:
            await compute.stop()

    app = FastAPI(
        title="cardiopredict",
        version="1",
        summary="Fold-ensemble predictions from ECGs and LGE, beside the clinical rule. Research use only.",
        lifespan=lifespan,
    )
    app.state.models = models
    app.state.compute = compute
    app.state.results = ResultStore(max_results=max_results)
    app.state.upload_dir = None if upload_dir is None else Path(upload_dir)
    app.include_router(_api_router(app, token))
    _add_page(app)
    _add_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=max_upload_bytes)

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        """Liveness: how many models are ready and whether the API needs a token."""
        ready = sum(isinstance(m, ServedModel) for m in app.state.models.values())
        return {"status": "ok", "models_ready": ready, "token_required": token is not None}

    return app


def _api_router(app: FastAPI, token: str | None) -> APIRouter:
    router = APIRouter(prefix=API, dependencies=[Depends(_token_check(token))], tags=["api"])

    @router.get("/models")
    def list_models() -> dict[str, Any]:
        """Every served model: inputs, preprocessing, training cohort (n, synthetic, pooled AUC + CI)."""
        return {"models": [model.describe() for model in app.state.models.values()]}

    @router.post("/models/{name}/predict", openapi_extra=_multipart_schema(app.state.models))
    async def predict(name: str, request: Request) -> JSONResponse:
        """Score one patient: multipart, one file per model input (``pre``, ``post``; ``lge`` zip)."""
        started = time.perf_counter()
        model = _served(app, name)
        form = await _form(request)
        try:
            with tempfile.TemporaryDirectory(
                dir=app.state.upload_dir, prefix="cardiopredict-upload-"
            ) as folder:
                files = await _store_uploads(form, Path(folder))
                sex, lvef = _optional_fields(form)
                scored = await app.state.compute.run(score, name, files, sex=sex, lvef_percent=lvef)
        finally:
            await form.close()
        result_id, figures = app.state.results.add(name, scored)
        answer = {
            "result_id": result_id,
            **scored.answer,
            "figures": {f: f"{API}/results/{result_id}/figures/{f}.png" for f in figures},
            "model_card": model.card,
        }
        log.info("predict model=%s status=200 ms=%.0f", name, 1000 * (time.perf_counter() - started))
        return JSONResponse(to_jsonable(answer), headers={"Cache-Control": "no-store"})

    @router.get("/results/{result_id}/figures/{figure}.png", response_class=Response)
    async def figure(result_id: str, figure: str) -> Response:
        """A figure of a recent prediction (drawn on first request), as PNG."""

        async def draw(model_name: str, job: tuple[str, tuple]) -> bytes:
            return await app.state.compute.run(draw_figure, model_name, *job)

        png = await app.state.results.png(result_id, figure, draw)
        if png is None:
            raise HTTPException(404, "no such figure: the result expired or never existed; predict again.")
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    return router


def _token_check(token: str | None) -> Any:
    def check(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise HTTPException(
                401, "this server needs an access token: send 'Authorization: Bearer <token>'."
            )

    return check


def _served(app: FastAPI, name: str) -> ServedModel:
    model = app.state.models.get(name)
    if model is None:
        known = ", ".join(app.state.models) or "none"
        raise HTTPException(404, f"no model named {name!r}; served models: {known}.")
    if isinstance(model, UnavailableModel):
        raise ModelFileError(f"model {name!r} did not load: {model.reason}")
    return model


async def _form(request: Request) -> Any:
    from starlette.formparsers import MultiPartException

    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InputError(
            "send the files as multipart/form-data, one field per model input (e.g. pre, post; lge)."
        )
    try:
        return await request.form(max_files=16, max_fields=32)
    except MultiPartException as error:
        raise InputError(
            f"the multipart body could not be parsed ({error}); send one file per field."
        ) from None


async def _store_uploads(form: Any, folder: Path) -> dict[str, Path]:
    """Write every uploaded file as ``<field><suffix>`` in ``folder``; refuse empty or repeated fields."""
    files: dict[str, Path] = {}
    for key, value in form.multi_items():
        if not isinstance(value, UploadFile):
            continue
        if key in files:
            raise InputError(f"field {key!r} holds more than one file; send one file per input.")
        path = folder / upload_name(key, value.filename)
        with open(path, "wb") as sink:
            while chunk := await value.read(1 << 20):
                sink.write(chunk)
        if path.stat().st_size == 0:
            raise InputError(f"the {key} file is empty; choose the file again.")
        files[key] = path
    return files


def _optional_fields(form: Any) -> tuple[str | None, float | None]:
    sex = form.get("sex") or None
    lvef = form.get("lvef") or None
    if isinstance(sex, UploadFile) or isinstance(lvef, UploadFile):
        raise InputError("sex and lvef are text fields, not files.")
    try:
        return (sex.strip().upper() if sex else None), (float(lvef) if lvef else None)
    except ValueError:
        raise InputError(
            f"lvef={lvef!r} is not a number; give the ejection fraction in %, e.g. 30."
        ) from None


def _multipart_schema(models: Mapping[str, ServedModel | UnavailableModel]) -> dict[str, Any]:
    """OpenAPI body of the predict route: the file fields of every served model, plus sex and lvef."""
    properties: dict[str, Any] = {}
    for model in models.values():
        for f in getattr(model, "fields", []):
            text = f"{f.description} (models: {f.kind})"
            properties[f.name] = {"type": "string", "format": "binary", "description": text}
    properties.update(
        {name: {"type": "string", "description": text} for name, text in OPTIONAL_FIELDS.items()}
    )
    content = {"multipart/form-data": {"schema": {"type": "object", "properties": properties}}}
    return {"requestBody": {"required": True, "content": content}}


def _add_page(app: FastAPI) -> None:
    page_headers = {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=page_headers)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


_STATUS = ((ModelFileError, 409), (ConfigError, 400), (InputError, 422))


def _add_error_handlers(app: FastAPI) -> None:
    def answer(status: int, error: str, message: str) -> JSONResponse:
        return JSONResponse({"error": error, "message": message}, status_code=status)

    @app.exception_handler(CardioPredictError)
    async def named(request: Request, error: CardioPredictError) -> JSONResponse:
        status = next((code for kind, code in _STATUS if isinstance(error, kind)), 422)
        log.info("request path=%s status=%d error=%s", request.url.path, status, type(error).__name__)
        return answer(status, type(error).__name__, str(error))

    @app.exception_handler(HTTPException)
    async def http(request: Request, error: HTTPException) -> JSONResponse:
        names = {401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed", 503: "ServiceUnavailable"}
        response = answer(error.status_code, names.get(error.status_code, "HTTPError"), str(error.detail))
        if error.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return answer(422, "InputError", f"the request is not valid ({where}).")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("request path=%s status=500 error=%s", request.url.path, type(error).__name__)
        return answer(
            500, "InternalError", "the server failed on this request; its log names the error type."
        )
