"""The seed's callback function, runnable on your machine against flowsim.

`handler` below is the Function Compute function of the seed scenario
("wait-for-callback with an MNS topic"), unchanged but for one optional
line: it parses the MNS push, reads the task token and reports
`{"status": "success"}` with the official SDK (aliyun-python-sdk-core +
aliyun-python-sdk-fnf).

Run it as a local stand-in for FC's HTTP trigger (in a venv: `.venv/` is
git-ignored):

    python3 -m venv .venv && .venv/bin/pip install -r assets/handler/requirements.txt
    .venv/bin/python assets/handler/handler.py --listen 127.0.0.1:9000 \
        --fnf-endpoint 127.0.0.1:8080

and subscribe it to the flow's topic: `flowsim serve --handler none
--subscribe flowsim-callback-topic=http://127.0.0.1:9000/`.

Two ways to point the SDK at flowsim:
- an endpoint override: `--fnf-endpoint HOST:PORT` (or the
  FLOWSIM_FNF_ENDPOINT variable) makes the handler call
  `client.add_endpoint(region, 'fnf', HOST:PORT)`;
- no code change at all: leave the endpoint alone and start the handler
  with `HTTP_PROXY=http://HOST:PORT` (the SDK talks plain HTTP by default
  and flowsim accepts proxy-style requests).

Credentials come from `environ['fc.context']` like on FC; this stand-in
fills it from ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET
(and ALIBABA_CLOUD_SECURITY_TOKEN), which must match flowsim's
`--access-key-id/--access-key-secret` when it checks signatures.

A report flowsim refuses is printed with its code and message, e.g.
`Report refused: HTTP 400 TaskAlreadyCompleted: ...` (the task already ended:
someone else reported, or it timed out), then the push fails (HTTP 500).
"""

import argparse
import json
import os
import sys
from types import SimpleNamespace
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkfnf.request.v20190315.ReportTaskSucceededRequest import (
    ReportTaskSucceededRequest,
)


def handler(environ, start_response):
    # Get request body
    try:
        request_body_size = int(environ.get('CONTENT_LENGTH', 0))
    except ValueError:
        request_body_size = 0
    request_body = environ['wsgi.input'].read(request_body_size)
    print('Request body: {}'.format(request_body), flush=True)

    body = json.loads(request_body)
    message_body_str = body['Message']

    # Read MessageBody and TaskToken from message body
    message_body = json.loads(message_body_str)
    task_token = message_body['taskToken']
    ori_message_body = message_body['messageBody']
    print('Task token: {}\norigin message body: {}'.format(task_token, ori_message_body),
          flush=True)

    # Init fnf client use sts token
    context = environ['fc.context']
    creds = context.credentials
    if creds.security_token:
        sts_creds = StsTokenCredential(creds.access_key_id, creds.access_key_secret,
                                       creds.security_token)
    else:
        sts_creds = AccessKeyCredential(creds.access_key_id, creds.access_key_secret)
    fnf_client = AcsClient(credential=sts_creds, region_id=context.region)
    # The one line added for flowsim (omit it and use HTTP_PROXY instead).
    if context.fnf_endpoint:
        fnf_client.add_endpoint(context.region, 'fnf', context.fnf_endpoint)

    # Report task succeeded to serverless workflow
    req = ReportTaskSucceededRequest()
    req.set_TaskToken(task_token)
    req.set_Output('{"status": "success"}')
    try:
        resp = fnf_client.do_action_with_exception(req)
    except ServerException as e:
        # Refused (the task already ended, a bad token, a wrong signature...):
        # say why, with the service's own code and message, then fail the
        # push like any unhandled error (FC answers 500, MNS retries).
        print('Report refused: HTTP {} {}: {} (RequestId {})'.format(
            e.get_http_status(), e.get_error_code(), e.get_error_msg(),
            e.get_request_id()), flush=True)
        raise
    print('Report task response: {}'.format(resp), flush=True)

    # Response to http request
    status = '200 OK'
    response_headers = [('Content-type', 'text/plain')]
    start_response(status, response_headers)
    return [b'OK']


def fc_trigger(app, region, fnf_endpoint):
    """Wraps a handler like FC's HTTP trigger: adds `fc.context` and turns
    an exception into HTTP 500 (so MNS retries the push)."""

    credentials = SimpleNamespace(
        access_key_id=os.environ.get('ALIBABA_CLOUD_ACCESS_KEY_ID', 'flowsim'),
        access_key_secret=os.environ.get('ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'flowsim'),
        security_token=os.environ.get('ALIBABA_CLOUD_SECURITY_TOKEN', ''),
    )
    context = SimpleNamespace(credentials=credentials, region=region,
                              fnf_endpoint=fnf_endpoint)

    def wrapped(environ, start_response):
        environ['fc.context'] = context
        try:
            return app(environ, start_response)
        except Exception as e:  # what FC does with an unhandled error
            print('Handler error: {!r}'.format(e), file=sys.stderr, flush=True)
            start_response('500 Internal Server Error', [('Content-type', 'text/plain')],
                           sys.exc_info())
            return [str(e).encode()]

    return wrapped


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        print('push: ' + format % args, file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--listen', default='127.0.0.1:9000',
                        help='HOST:PORT to serve the HTTP trigger on (port 0: any free port)')
    parser.add_argument('--fnf-endpoint', default=os.environ.get('FLOWSIM_FNF_ENDPOINT', ''),
                        help="flowsim's HOST:PORT for the FnF API (endpoint override); "
                             'leave empty to rely on HTTP_PROXY')
    parser.add_argument('--region', default='cn-hangzhou')
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(':')
    app = fc_trigger(handler, args.region, args.fnf_endpoint)
    server = make_server(host or '127.0.0.1', int(port), app, WSGIServer, QuietHandler)
    # The first line says where it listens (scripts read it).
    print('listening on http://{}:{}/'.format(*server.server_address[:2]), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
