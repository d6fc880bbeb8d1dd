"""Task networking through the API: a RUNNING awsvpc task reports an ElasticNetworkInterface
attachment whose privateIPv4Address is the task's loopback address, and the host reaches a
wasi:http container there (`curl http://<task-ip>:<containerPort>/`, as DESIGN.md says)."""

import ipaddress
import urllib.request

from wg import *  # noqa: F403


@step
def eni_attachment_and_reachable_address():
    register("web", [container("web", "http-hello", ["web"], portMappings=[{"containerPort": 8080}],
                               stopTimeout=2)])
    arn = run_task("web")[0]["taskArn"]
    wait_tasks("running", [arn])
    t = describe_task(arn)
    enis = [a for a in t.get("attachments", []) if a.get("type") == "ElasticNetworkInterface"]
    eq(len(enis), 1, "one ElasticNetworkInterface attachment")
    if not enis:
        ecs.stop_task(task=arn)
        return
    details = {d.get("name"): d.get("value") for d in enis[0].get("details", [])}
    ip = details.get("privateIPv4Address")
    check(ip and ipaddress.ip_address(ip) in ipaddress.ip_network("127.0.0.0/8"),
          "privateIPv4Address in 127.0.0.0/8", details)
    eq(enis[0].get("status"), "ATTACHED", "attachment status")
    for k in ("subnetId", "networkInterfaceId", "macAddress"):
        check(details.get(k), f"ENI detail {k}", details)
    c = t["containers"][0]
    eq([n.get("privateIpv4Address") for n in c.get("networkInterfaces", [])], [ip],
       "container networkInterfaces carry the address")
    if ip:
        body = urllib.request.urlopen(f"http://{ip}:8080/hi", timeout=10).read().decode()
        check(body.startswith("hello from web"), "the host reaches the task at its address", body)
    ecs.stop_task(task=arn, reason="done")
    wait_tasks("stopped", [arn])


main()
