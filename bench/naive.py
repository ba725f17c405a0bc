"""The baseline: plain RQ, one job per delivery, three iContact calls with ``requests``.

    python -m bench.naive --redis-url URL [--queue naive] [--name NAME]

runs a non-forking ``SimpleWorker`` in burst mode. Job functions live at module level so the
worker imports them by name.
"""

from __future__ import annotations

import argparse

import requests
from redis import Redis
from rq import Queue, SimpleWorker

QUEUE = "bench-naive"

# One connection pool per worker process, reused by every job (the fair, faster baseline).
_http = requests.Session()


def noop() -> None:
    """The job of the bare ``Queue.enqueue`` yardstick."""


def subscribe_customer(
    api_url: str, headers: dict, folder_path: str, email: str, first_name: str, list_id: str
) -> str:
    """Look the contact up, create it if missing, subscribe it: the natural one-job design."""
    contacts = folder_path + "/contacts"
    found = _http.get(
        api_url + contacts,
        params={"email": email, "status": "total", "limit": 1},
        headers=headers,
        timeout=30,
    )
    found.raise_for_status()
    matches = found.json().get("contacts") or []
    if matches:
        contact_id = matches[0]["contactId"]
    else:
        created = _http.post(
            api_url + contacts,
            json=[{"email": email, "firstName": first_name}],
            headers=headers,
            timeout=30,
        )
        created.raise_for_status()
        contact_id = created.json()["contacts"][0]["contactId"]
    answer = _http.post(
        api_url + folder_path + "/subscriptions",
        json=[{"contactId": contact_id, "listId": list_id, "status": "normal"}],
        headers=headers,
        timeout=30,
    )
    answer.raise_for_status()
    if not answer.json().get("subscriptions"):
        raise RuntimeError(f"not subscribed: {answer.text[:200]}")
    return contact_id


def api_headers(app_id: str, username: str, password: str) -> dict:
    return {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "API-Version": "2.2",
        "API-AppId": app_id,
        "API-Username": username,
        "API-Password": password,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--queue", default=QUEUE)
    parser.add_argument("--name")
    args = parser.parse_args(argv)
    connection = Redis.from_url(args.redis_url)
    queue = Queue(args.queue, connection=connection)
    worker = SimpleWorker([queue], connection=connection, name=args.name)
    worker.work(burst=True)


if __name__ == "__main__":
    main()
