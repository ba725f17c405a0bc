"""The path of an event: validated and stored (``events``, ``outbox``), matched against rules
(``triggers``, ``rules``), expanded into deliveries, claimed under leases, applied through a
provider and written (``deliveries``, ``jobs``), retried and swept (``retries``, ``sweeper``,
``outages``), paced (``ratelimit``) and queued (``queue``). Nothing here imports Flask views."""
