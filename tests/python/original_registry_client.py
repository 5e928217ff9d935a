"""Registers, heartbeats and deregisters an agent as the original configurable-agents
AgentRegistryClient does: an httpx.AsyncClient with a 10 s timeout, POST
{registry_url}/agents/register with the agent's JSON, POST
{registry_url}/agents/{id}/heartbeat without a body, DELETE {registry_url}/agents/{id},
raising on any HTTP error. A registry URL that carries credentials
(http://agent:SECRET@host:port/api) is sent as HTTP Basic by httpx, unchanged code.

Usage: original_registry_client.py REGISTRY_URL AGENT_ID
Prints `STEP STATUS` per request; exits non-zero on the first refusal.
"""

import asyncio
import sys

import httpx


async def main(registry_url: str, agent_id: str) -> None:
    registry_url = registry_url.rstrip("/")
    async with httpx.AsyncClient(timeout=10.0) as client:
        payload = {
            "agent_id": agent_id,
            "agent_name": agent_id,
            "host": "127.0.0.1",
            "port": 8000,
            "ttl_seconds": 60,
            "metadata": None,
        }
        steps = [
            ("register", lambda: client.post(f"{registry_url}/agents/register", json=payload)),
            ("heartbeat", lambda: client.post(f"{registry_url}/agents/{agent_id}/heartbeat")),
            ("deregister", lambda: client.delete(f"{registry_url}/agents/{agent_id}")),
        ]
        for step, send in steps:
            response = await send()
            print(step, response.status_code, flush=True)
            response.raise_for_status()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
