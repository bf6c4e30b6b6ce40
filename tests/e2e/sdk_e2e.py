#!/usr/bin/env python3
"""flowsim against the official Alibaba Cloud Python SDKs, end to end.

Run by .ci/run as `python tests/e2e/sdk_e2e.py FLOWSIM_BINARY` inside a
virtualenv with tests/e2e/requirements.txt installed. It:

1. starts `flowsim serve` on 127.0.0.1:0 with credentials and no simulated
   function (`--handler none`);
2. starts the example handler (assets/handler/handler.py, the seed's
   function) and subscribes it to the seed flow's topic with the MNS SDK;
3. starts an execution with the Tea SDK (alibabacloud-fnf20190315) and
   long-polls DescribeExecution until it ends: Succeeded with the handler's
   output;
4. reports the same token again with the core SDK (aliyun-python-sdk-core +
   aliyun-python-sdk-fnf): ServerException TaskAlreadyCompleted;
5. does it again with the handler pointed at flowsim by HTTP_PROXY only;
6. publishes to a topic and sends/receives/deletes on a queue with the MNS
   SDK (aliyun-mns-sdk); checks a wrong secret is refused.

Every check prints `ok` or `FAIL`; the last line is `N passed, M failed`
and the exit code is non-zero on any failure. Nothing waits longer than
its own timeout, and every process it starts is stopped at the end.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkfnf.request.v20190315.DescribeExecutionRequest import DescribeExecutionRequest
from aliyunsdkfnf.request.v20190315.ReportTaskSucceededRequest import (
    ReportTaskSucceededRequest,
)
from alibabacloud_fnf20190315 import models as fnf_models
from alibabacloud_fnf20190315.client import Client as FnfClient
from alibabacloud_tea_openapi import models as openapi_models
from mns.account import Account
from mns.mns_exception import MNSServerException
from mns.queue import Message, QueueMeta
from mns.subscription import SubscriptionMeta
from mns.topic import TopicMessage, TopicMeta

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HANDLER = os.path.join(ROOT, 'assets', 'handler', 'handler.py')
AK, SK = 'e2e-access-key', 'e2e-secret'
REGION = 'cn-hangzhou'
FLOW = 'mns-topic-callback'
TOPIC = 'flowsim-callback-topic'
INPUT = '{"messageBody": "hello world"}'

results = {'passed': 0, 'failed': 0}
processes = []


def check(name, condition, detail=''):
    if condition:
        results['passed'] += 1
        print('ok    ' + name, flush=True)
    else:
        results['failed'] += 1
        print('FAIL  {} {}'.format(name, detail), flush=True)


def start(args, env=None, pattern=r'http://(127\.0\.0\.1:\d+)'):
    """Starts a process and waits (10 s at most) for the address it prints."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, text=True)
    processes.append(proc)
    found = {}
    lines = []

    def pump():
        for line in proc.stdout:
            lines.append(line)
            sys.stdout.write('  | ' + line)
            if 'addr' not in found:
                m = re.search(pattern, line)
                if m:
                    found['addr'] = m.group(1)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.time() + 10
    while 'addr' not in found and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if 'addr' not in found:
        raise RuntimeError('{} printed no address: {}'.format(args[0], ''.join(lines)))
    return proc, found['addr']


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def tea_client(addr):
    return FnfClient(openapi_models.Config(access_key_id=AK, access_key_secret=SK,
                                           endpoint=addr, protocol='http', region_id=REGION))


def core_client(addr, secret=SK):
    client = AcsClient(AK, secret, REGION)
    client.add_endpoint(REGION, 'fnf', addr)
    return client


def run_execution(tea, name):
    """Starts an execution and long-polls it to its end (30 s at most)."""
    tea.start_execution(fnf_models.StartExecutionRequest(
        flow_name=FLOW, execution_name=name, input=INPUT))
    deadline = time.time() + 30
    while True:
        r = tea.describe_execution(fnf_models.DescribeExecutionRequest(
            flow_name=FLOW, execution_name=name, wait_time_seconds=5))
        if r.body.status not in ('Starting', 'Running') or time.time() > deadline:
            return r.body


def task_token(tea, name):
    r = tea.get_execution_history(fnf_models.GetExecutionHistoryRequest(
        flow_name=FLOW, execution_name=name))
    for event in r.body.events:
        if event.type == 'TaskStarted':
            detail = json.loads(event.event_detail or '{}')
            if detail.get('taskToken'):
                return detail['taskToken']
    return None


def subscribe(account, handler_addr, name):
    sub = account.get_subscription(TOPIC, name)
    sub.subscribe(SubscriptionMeta(endpoint='http://{}/'.format(handler_addr),
                                   notify_strategy='BACKOFF_RETRY',
                                   notify_content_format='JSON'))
    return sub


def main():
    flowsim = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'target', 'release',
                                                                  'flowsim')
    _, fnf_addr = start([flowsim, 'serve', '--listen', '127.0.0.1:0', '--handler', 'none',
                         '--access-key-id', AK, '--access-key-secret', SK, '--seed', '1'])
    print('flowsim serves on ' + fnf_addr, flush=True)
    account = Account('http://' + fnf_addr, AK, SK)
    tea = tea_client(fnf_addr)
    base_env = dict(os.environ, ALIBABA_CLOUD_ACCESS_KEY_ID=AK,
                    ALIBABA_CLOUD_ACCESS_KEY_SECRET=SK)
    for var in ('HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'):
        base_env.pop(var, None)

    # 1. The handler with an endpoint override.
    handler, handler_addr = start([sys.executable, HANDLER, '--listen', '127.0.0.1:0',
                                   '--fnf-endpoint', fnf_addr], env=base_env)
    sub = subscribe(account, handler_addr, 'e2e-handler')
    check('MNS SDK subscribes the handler to the topic', True)
    x = run_execution(tea, 'e2e_endpoint_override')
    check('Tea SDK: execution Succeeded (endpoint override)', x.status == 'Succeeded',
          x.status)
    check('output is the handler\'s {"status": "success"}',
          json.loads(x.output or 'null') == {'status': 'success'}, x.output)

    token = task_token(tea, 'e2e_endpoint_override')
    check('GetExecutionHistory shows the task token', bool(token))
    try:
        req = ReportTaskSucceededRequest()
        req.set_TaskToken(token)
        req.set_Output('{"status": "again"}')
        core_client(fnf_addr).do_action_with_exception(req)
        check('core SDK: a second report is refused', False, 'no exception')
    except ServerException as e:
        check('core SDK: a second report raises TaskAlreadyCompleted',
              e.get_error_code() == 'TaskAlreadyCompleted', e.get_error_code())

    try:
        req = DescribeExecutionRequest()
        req.set_FlowName(FLOW)
        req.set_ExecutionName('e2e_endpoint_override')
        core_client(fnf_addr, secret='wrong-secret').do_action_with_exception(req)
        check('a wrong secret is refused', False, 'no exception')
    except ServerException as e:
        check('a wrong secret is refused with SignatureNotMatch',
              e.get_error_code() in ('SignatureNotMatch', 'SignatureDoesNotMatch'),
              e.get_error_code())

    # 2. The same handler code, pointed at flowsim by HTTP_PROXY alone.
    stop(handler)
    sub.unsubscribe()
    proxy_env = dict(base_env, HTTP_PROXY='http://' + fnf_addr,
                     http_proxy='http://' + fnf_addr)
    handler, handler_addr = start([sys.executable, HANDLER, '--listen', '127.0.0.1:0',
                                   '--fnf-endpoint', ''], env=proxy_env)
    subscribe(account, handler_addr, 'e2e-handler-proxy')
    x = run_execution(tea, 'e2e_http_proxy')
    check('Tea SDK: execution Succeeded (handler behind HTTP_PROXY)',
          x.status == 'Succeeded', x.status)
    stop(handler)

    # 3. MNS: publish to a topic, and a queue round trip.
    topic = account.get_topic('e2e-topic')
    topic.create(TopicMeta())
    published = topic.publish_message(TopicMessage('hello topic'))
    check('MNS SDK publishes to a topic (MD5 upper-case hex)',
          published.message_body_md5 == hashlib.md5(b'hello topic').hexdigest().upper(),
          published.message_body_md5)
    queue = account.get_queue('e2e-queue')
    queue.create(QueueMeta())
    sent = queue.send_message(Message('hello queue'))
    got = queue.receive_message(wait_seconds=3)
    body = got.message_body
    if isinstance(body, bytes):  # the SDK decodes base64 bodies to bytes
        body = body.decode('utf-8')
    check('MNS SDK sends and receives on a queue',
          body == 'hello queue' and got.message_id == sent.message_id,
          '{!r} {!r}'.format(got.message_body, got.message_id))
    queue.delete_message(got.receipt_handle)
    try:
        queue.receive_message(wait_seconds=1)
        check('a deleted message is gone', False, 'received again')
    except MNSServerException as e:
        check('a deleted message is gone (MessageNotExist)', e.type == 'MessageNotExist',
              e.type)
    try:
        account.get_queue('no-such-queue').send_message(Message('x'))
        check('an unknown queue is refused', False, 'no exception')
    except MNSServerException as e:
        check('an unknown queue is refused with QueueNotExist', e.type == 'QueueNotExist',
              e.type)


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # a crash is a failure, with its story
        import traceback
        traceback.print_exc()
        check('the scenario ran to its end', False, repr(e))
    finally:
        for p in processes:
            stop(p)
    print('{} passed, {} failed'.format(results['passed'], results['failed']), flush=True)
    sys.exit(1 if results['failed'] or not results['passed'] else 0)
