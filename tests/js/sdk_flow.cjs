// The AWS SDK for JavaScript v3 against `wasmgate serve` (issue 11): ECS and CloudWatch
// Logs clients as a Node user writes them. register, run, waiters, describe, logs,
// services, tags, errors and paginators. Usage: node sdk_flow.cjs <port>; the guests'
// folder comes from WASMGATE_GUESTS_DIR. Prints "ok <step>" per step; exits 1 on the first
// failure with what was expected.
"use strict";

const assert = require("node:assert/strict");
const ecsSdk = require("@aws-sdk/client-ecs");
const logsSdk = require("@aws-sdk/client-cloudwatch-logs");

const port = process.argv[2];
const guests = process.env.WASMGATE_GUESTS_DIR;
const config = {
  endpoint: `http://127.0.0.1:${port}`,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
};
const ecs = new ecsSdk.ECSClient(config);
const logs = new logsSdk.CloudWatchLogsClient(config);
const WAIT = { client: ecs, maxWaitTime: 90, minDelay: 1, maxDelay: 2 };
const LOG_GROUP = "/wasmgate/js";

function container(name, guest, command, extra = {}) {
  return {
    name,
    image: `${guests}/${guest}.wasm`,
    command,
    essential: true,
    logConfiguration: {
      logDriver: "awslogs",
      options: { "awslogs-group": LOG_GROUP, "awslogs-stream-prefix": "js" },
    },
    ...extra,
  };
}

async function register(family, containers) {
  const out = await ecs.send(
    new ecsSdk.RegisterTaskDefinitionCommand({
      family,
      cpu: "256",
      memory: "512",
      networkMode: "awsvpc",
      requiresCompatibilities: ["FARGATE"],
      containerDefinitions: containers,
    }),
  );
  return out.taskDefinition;
}

async function run(taskDefinition, count = 1) {
  const out = await ecs.send(new ecsSdk.RunTaskCommand({ taskDefinition, count }));
  assert.deepEqual(out.failures, [], "RunTask failures");
  return out.tasks.map((t) => t.taskArn);
}

async function describeTask(arn) {
  const out = await ecs.send(new ecsSdk.DescribeTasksCommand({ tasks: [arn] }));
  assert.equal(out.tasks.length, 1, `DescribeTasks ${arn}`);
  return out.tasks[0];
}

/** The error `fn` rejects with (it must reject). */
async function errorOf(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail("the call succeeded; an error was expected");
}

const steps = [];
function step(name, fn) {
  steps.push([name, fn]);
}
const S = {};

step("register", async () => {
  const td = await register("js-echo", [container("app", "echo", ["hello-js"])]);
  assert.equal(td.family, "js-echo");
  assert.equal(td.revision, 1);
  assert.equal(td.status, "ACTIVE");
  assert.match(td.taskDefinitionArn, /^arn:aws:ecs:us-east-1:000000000000:task-definition\/js-echo:1$/);
  assert.ok(td.registeredAt instanceof Date, "registeredAt is parsed as a Date");
  assert.equal(td.containerDefinitions[0].cpu, 0, "cpu 0 as ECS shows it");
  S.echoArn = td.taskDefinitionArn;
  const sleep = await register("js-sleep", [container("app", "sleep", ["600000"], { stopTimeout: 2 })]);
  assert.equal(sleep.revision, 1);
});

step("run and wait until stopped", async () => {
  const [arn] = await run("js-echo");
  S.echoTask = arn;
  const result = await ecsSdk.waitUntilTasksStopped(WAIT, { tasks: [arn] });
  assert.equal(result.state, "SUCCESS");
});

step("describe", async () => {
  const t = await describeTask(S.echoTask);
  assert.equal(t.lastStatus, "STOPPED");
  assert.equal(t.desiredStatus, "STOPPED");
  assert.equal(t.stopCode, "EssentialContainerExited");
  assert.equal(t.containers[0].exitCode, 0);
  assert.equal(t.containers[0].lastStatus, "STOPPED");
  assert.equal(t.launchType, "FARGATE");
  assert.ok(t.createdAt instanceof Date && t.stoppedAt instanceof Date, "timestamps are Dates");
  assert.ok(t.stoppedAt >= t.createdAt, "stoppedAt after createdAt");
});

step("logs", async () => {
  const id = S.echoTask.split("/").pop();
  const stream = `js/app/${id}`;
  const got = await logs.send(
    new logsSdk.GetLogEventsCommand({ logGroupName: LOG_GROUP, logStreamName: stream, startFromHead: true }),
  );
  const messages = got.events.map((e) => e.message);
  assert.ok(messages.includes("arg[1]=hello-js"), `GetLogEvents: ${JSON.stringify(messages)}`);
  assert.ok(got.nextForwardToken, "nextForwardToken");
  const filtered = await logs.send(
    new logsSdk.FilterLogEventsCommand({ logGroupName: LOG_GROUP, filterPattern: "hello-js" }),
  );
  assert.ok(filtered.events.length >= 1, "FilterLogEvents found the line");
  assert.ok(filtered.events.every((e) => e.message.includes("hello-js")), "only matching events");
  assert.equal(filtered.events[0].logStreamName, stream);
  const groups = await logs.send(new logsSdk.DescribeLogGroupsCommand({ logGroupNamePrefix: "/wasmgate/js" }));
  assert.deepEqual(groups.logGroups.map((g) => g.logGroupName), [LOG_GROUP]);
});

step("run, wait until running, stop", async () => {
  const [arn] = await run("js-sleep");
  const running = await ecsSdk.waitUntilTasksRunning(WAIT, { tasks: [arn] });
  assert.equal(running.state, "SUCCESS");
  assert.equal((await describeTask(arn)).lastStatus, "RUNNING");
  const stopped = await ecs.send(new ecsSdk.StopTaskCommand({ task: arn, reason: "js says stop" }));
  assert.equal(stopped.task.desiredStatus, "STOPPED");
  await ecsSdk.waitUntilTasksStopped(WAIT, { tasks: [arn] });
  const t = await describeTask(arn);
  assert.equal(t.stopCode, "UserInitiated");
  assert.equal(t.stoppedReason, "js says stop");
});

step("services", async () => {
  const created = await ecs.send(
    new ecsSdk.CreateServiceCommand({ serviceName: "js-svc", taskDefinition: "js-sleep", desiredCount: 1 }),
  );
  assert.equal(created.service.status, "ACTIVE");
  assert.equal(created.service.desiredCount, 1);
  await ecsSdk.waitUntilServicesStable(WAIT, { services: ["js-svc"] });
  const updated = await ecs.send(new ecsSdk.UpdateServiceCommand({ service: "js-svc", desiredCount: 2 }));
  assert.equal(updated.service.desiredCount, 2);
  await ecsSdk.waitUntilServicesStable(WAIT, { services: ["js-svc"] });
  const described = await ecs.send(new ecsSdk.DescribeServicesCommand({ services: ["js-svc"] }));
  assert.equal(described.services[0].runningCount, 2);
  assert.equal(described.services[0].pendingCount, 0);
  const listed = await ecs.send(new ecsSdk.ListServicesCommand({}));
  assert.ok(listed.serviceArns.some((a) => a.endsWith("/default/js-svc")), "ListServices");
  const deleted = await ecs.send(new ecsSdk.DeleteServiceCommand({ service: "js-svc", force: true }));
  assert.equal(deleted.service.status, "DRAINING");
  await ecsSdk.waitUntilServicesInactive(WAIT, { services: ["js-svc"] });
});

step("tags", async () => {
  await ecs.send(
    new ecsSdk.TagResourceCommand({
      resourceArn: S.echoArn,
      tags: [{ key: "team", value: "js" }, { key: "env", value: "test" }],
    }),
  );
  let out = await ecs.send(new ecsSdk.ListTagsForResourceCommand({ resourceArn: S.echoArn }));
  const sorted = (tags) => [...tags].sort((a, b) => a.key.localeCompare(b.key));
  assert.deepEqual(sorted(out.tags), [{ key: "env", value: "test" }, { key: "team", value: "js" }]);
  await ecs.send(new ecsSdk.UntagResourceCommand({ resourceArn: S.echoArn, tagKeys: ["env"] }));
  out = await ecs.send(new ecsSdk.ListTagsForResourceCommand({ resourceArn: S.echoArn }));
  assert.deepEqual(out.tags, [{ key: "team", value: "js" }]);
});

step("errors", async () => {
  let e = await errorOf(() =>
    ecs.send(new ecsSdk.DescribeTaskDefinitionCommand({ taskDefinition: "no-such-family" })),
  );
  assert.ok(e instanceof ecsSdk.ClientException, `a ClientException, got ${e.name}`);
  assert.equal(e.name, "ClientException");
  assert.equal(e.$metadata.httpStatusCode, 400);
  assert.ok(e.message.length > 0, "a message");
  e = await errorOf(() => ecs.send(new ecsSdk.RunTaskCommand({ taskDefinition: "js-echo", count: 11 })));
  assert.ok(e instanceof ecsSdk.InvalidParameterException, `an InvalidParameterException, got ${e.name}`);
  assert.match(e.message, /^count: 11 is out of range/);
  e = await errorOf(() => ecs.send(new ecsSdk.DescribeServicesCommand({ cluster: "nowhere", services: ["x"] })));
  assert.ok(e instanceof ecsSdk.ClusterNotFoundException, `a ClusterNotFoundException, got ${e.name}`);
  e = await errorOf(() =>
    logs.send(new logsSdk.GetLogEventsCommand({ logGroupName: "/no/such/group", logStreamName: "s" })),
  );
  assert.ok(e instanceof logsSdk.ResourceNotFoundException, `a ResourceNotFoundException, got ${e.name}`);
});

step("paginators", async () => {
  const arns = await run("js-sleep", 3);
  await ecsSdk.waitUntilTasksRunning(WAIT, { tasks: arns });
  const seen = [];
  let pages = 0;
  for await (const page of ecsSdk.paginateListTasks({ client: ecs, pageSize: 1 }, { family: "js-sleep" })) {
    pages += 1;
    seen.push(...page.taskArns);
  }
  assert.deepEqual([...seen].sort(), [...arns].sort(), "paginateListTasks saw every task once");
  assert.ok(pages >= 3, `one task per page (${pages} pages)`);
  const defs = [];
  for await (const page of ecsSdk.paginateListTaskDefinitions({ client: ecs, pageSize: 1 }, {})) {
    defs.push(...page.taskDefinitionArns);
  }
  assert.equal(defs.length, 2, `paginateListTaskDefinitions: ${defs}`);
  // Two more echo tasks: three log streams in the group, one per page.
  const echoes = await run("js-echo", 2);
  await ecsSdk.waitUntilTasksStopped(WAIT, { tasks: echoes });
  const streams = [];
  let streamPages = 0;
  for await (const page of logsSdk.paginateDescribeLogStreams(
    { client: logs, pageSize: 1 },
    { logGroupName: LOG_GROUP },
  )) {
    streamPages += 1;
    streams.push(...page.logStreams.map((s) => s.logStreamName));
  }
  const want = [S.echoTask, ...echoes].map((arn) => `js/app/${arn.split("/").pop()}`);
  assert.deepEqual([...streams].sort(), want.sort(), "paginateDescribeLogStreams saw every stream");
  assert.ok(streamPages >= 3, `one stream per page (${streamPages} pages)`);
  for (const arn of arns) {
    await ecs.send(new ecsSdk.StopTaskCommand({ task: arn }));
  }
  await ecsSdk.waitUntilTasksStopped(WAIT, { tasks: arns });
});

(async () => {
  for (const [name, fn] of steps) {
    try {
      await fn();
      console.log(`ok ${name}`);
    } catch (e) {
      console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
      process.exit(1);
    }
  }
  console.log(`all ${steps.length} steps passed`);
})();
