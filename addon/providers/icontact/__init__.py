"""iContact: the HTTP client (``client``, no Flask) and its batched actions (``batch``)."""
