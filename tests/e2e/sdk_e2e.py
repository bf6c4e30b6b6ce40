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
   SDK (aliyun-mns-sdk); checks a wrong secret is refused;
7. CloudFlow: creates the seed chain in the new spec
   (flows/cloudflow/mns-topic-callback.yaml, on a topic of its own, which the
   MNS SDK creates and subscribes the handler to) with the Tea SDK's
   CreateFlow, runs it to Succeeded with the handler's output over MNS push,
   and sees a second ReportTaskSucceeded refused with TaskAlreadyCompleted;
   then an Express flow through StartSyncExecution, UpdateFlow, and the
   modes in DescribeFlow / ListFlows.

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
CF_FLOW = 'mns-topic-callback-cloudflow'
CF_TOPIC = 'flowsim-cloudflow-topic'
CF_SEED = os.path.join(ROOT, 'flows', 'cloudflow', 'mns-topic-callback.yaml')
EXPRESS_FLOW = 'express-quick'
EXPRESS = """Type: StateMachine
Name: express-quick
SpecVersion: v1
StartAt: prepare
States:
  - Type: Pass
    Name: prepare
    OutputConstructor:
      greeting.$: format('hello {}', $Input.name)
    Next: pause
  - Type: Wait
    Name: pause
    Seconds: 1
    Next: done
  - Type: Pass
    Name: done
    OutputConstructor:
      greeting.$: $Input.greeting
      express: true
    End: true
"""

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


def run_execution(tea, name, flow=FLOW):
    """Starts an execution and long-polls it to its end (30 s at most)."""
    tea.start_execution(fnf_models.StartExecutionRequest(
        flow_name=flow, execution_name=name, input=INPUT))
    deadline = time.time() + 30
    while True:
        r = tea.describe_execution(fnf_models.DescribeExecutionRequest(
            flow_name=flow, execution_name=name, wait_time_seconds=5))
        if r.body.status not in ('Starting', 'Running') or time.time() > deadline:
            return r.body


def task_token(tea, name, flow=FLOW):
    r = tea.get_execution_history(fnf_models.GetExecutionHistoryRequest(
        flow_name=flow, execution_name=name))
    for event in r.body.events:
        if event.type == 'TaskStarted':
            detail = json.loads(event.event_detail or '{}')
            if detail.get('taskToken'):
                return detail['taskToken']
    return None


def subscribe(account, handler_addr, name, topic=TOPIC):
    sub = account.get_subscription(topic, name)
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

    cloudflow(account, tea, base_env, fnf_addr)


def error_code(e):
    """The upstream Code of a Tea SDK error (its attribute moved between
    versions) or None."""
    return getattr(e, 'code', None) or getattr(e, 'Code', None)


def cloudflow(account, tea, base_env, fnf_addr):
    """7. The seed chain in the CloudFlow spec, then an Express flow."""
    # The topic and the handler's push subscription, as for the FDL flow
    # (here the MNS SDK also creates the topic: no loaded flow names it).
    account.get_topic(CF_TOPIC).create(TopicMeta())
    handler, handler_addr = start([sys.executable, HANDLER, '--listen', '127.0.0.1:0',
                                   '--fnf-endpoint', fnf_addr], env=base_env)
    subscribe(account, handler_addr, 'e2e-cloudflow-handler', topic=CF_TOPIC)
    # The seed chain's text, named after the flow and on its own topic.
    with open(CF_SEED, encoding='utf-8') as f:
        definition = (f.read()
                      .replace('Name: mns-topic-callback', 'Name: ' + CF_FLOW)
                      .replace('/topics/' + TOPIC + '/', '/topics/' + CF_TOPIC + '/'))
    created = tea.create_flow(fnf_models.CreateFlowRequest(
        name=CF_FLOW, definition=definition, description='the seed chain, CloudFlow',
        type='FDL', execution_mode='Standard')).body
    check('Tea SDK: CreateFlow takes a CloudFlow state machine',
          created.name == CF_FLOW and created.definition == definition
          and created.execution_mode == 'Standard',
          '{} {}'.format(created.name, created.execution_mode))
    x = run_execution(tea, 'e2e_cloudflow', flow=CF_FLOW)
    check('Tea SDK: CloudFlow execution Succeeded (handler over MNS push)',
          x.status == 'Succeeded', x.status)
    check('CloudFlow output is the handler\'s {"status": "success"}',
          json.loads(x.output or 'null') == {'status': 'success'}, x.output)
    token = task_token(tea, 'e2e_cloudflow', flow=CF_FLOW)
    check('GetExecutionHistory shows the CloudFlow task token', bool(token))
    try:
        tea.report_task_succeeded(fnf_models.ReportTaskSucceededRequest(
            task_token=token, output='{"status": "again"}'))
        check('Tea SDK: a second CloudFlow report is refused', False, 'no exception')
    except Exception as e:  # the Tea SDK's error class moved between versions
        check('Tea SDK: a second CloudFlow report raises TaskAlreadyCompleted',
              error_code(e) == 'TaskAlreadyCompleted', repr(e))
    stop(handler)

    # Express: created with ExecutionMode, run with StartSyncExecution.
    created = tea.create_flow(fnf_models.CreateFlowRequest(
        name=EXPRESS_FLOW, definition=EXPRESS, description='express', type='FDL',
        execution_mode='Express')).body
    check('Tea SDK: CreateFlow in Express mode', created.execution_mode == 'Express',
          created.execution_mode)
    described = tea.describe_flow(fnf_models.DescribeFlowRequest(name=EXPRESS_FLOW)).body
    check('DescribeFlow shows ExecutionMode Express', described.execution_mode == 'Express',
          described.execution_mode)
    listed = tea.list_flows(fnf_models.ListFlowsRequest()).body
    modes = {f.name: f.execution_mode for f in listed.flows}
    check('ListFlows shows each flow\'s mode',
          modes.get(EXPRESS_FLOW) == 'Express' and modes.get(CF_FLOW) == 'Standard'
          and modes.get(FLOW) == 'Standard', repr(modes))
    if not hasattr(tea, 'start_sync_execution'):
        print('skip  this Tea SDK has no StartSyncExecution', flush=True)
        return
    r = tea.start_sync_execution(fnf_models.StartSyncExecutionRequest(
        flow_name=EXPRESS_FLOW, execution_name='e2e_sync', input='{"name": "sync"}')).body
    check('Tea SDK: StartSyncExecution answers the ended execution',
          r.status == 'Succeeded' and r.flow_name == EXPRESS_FLOW
          and (r.name or '').startswith('e2e_sync:') and bool(r.stopped_time),
          '{} {} {}'.format(r.status, r.name, r.stopped_time))
    check('StartSyncExecution output',
          json.loads(r.output or 'null') == {'greeting': 'hello sync', 'express': True},
          r.output)
    try:
        tea.start_sync_execution(fnf_models.StartSyncExecutionRequest(
            flow_name=CF_FLOW, input=INPUT))
        check('StartSyncExecution refuses a Standard flow', False, 'no exception')
    except Exception as e:
        check('StartSyncExecution refuses a Standard flow (ActionNotSupported)',
              error_code(e) == 'ActionNotSupported', repr(e))
    updated = tea.update_flow(fnf_models.UpdateFlowRequest(
        name=EXPRESS_FLOW, definition=EXPRESS.replace('express: true', 'express: updated'),
        type='FDL')).body
    check('Tea SDK: UpdateFlow replaces the definition',
          'express: updated' in (updated.definition or ''), updated.definition)
    r = tea.start_sync_execution(fnf_models.StartSyncExecutionRequest(
        flow_name=EXPRESS_FLOW, input='{"name": "again"}')).body
    check('the updated Express flow runs its new definition',
          json.loads(r.output or 'null') == {'greeting': 'hello again', 'express': 'updated'},
          r.output)


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
