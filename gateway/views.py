"""The gateway as Django views, for servers that reach it through Django's URLs (gunicorn under
``make serve`` when a proxy sends /gateway/ to PORT; Django's test client). Under daphne or uvicorn,
``netra_site.asgi`` sends /gateway/ to gateway.asgi first, without the middleware stack.
A WSGI server cannot stream: it sends a streamed answer whole (docs/gateway.md says to route /gateway/
to the ASGI server)."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from gateway.handler import ROUTES, gateway_handle
from gateway.providers import ENDPOINTS
from gateway.relay import error_reply
from tokens.auth import ApiKeyAuthentication


@csrf_exempt
async def gateway_view(request: HttpRequest) -> HttpResponse:
    name = ROUTES[request.path_info]
    try:
        body = request.body
    except RequestDataTooBig:
        reply = error_reply(ENDPOINTS[name].provider, 413, "The request body is larger than the server accepts.",
                            code="body_too_large")
    else:
        reply = await gateway_handle(name=name, method=request.method, headers=request.headers, body=body,
                                     address=ApiKeyAuthentication.get_ident(request))
    if reply.stream is not None:
        return StreamingHttpResponse(reply.stream, status=reply.status, headers=reply.headers)
    return HttpResponse(reply.body, status=reply.status, headers=reply.headers)
